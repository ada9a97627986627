import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { type RunningConnectServer, startConnectServer } from "../../dev/src/connect/server.ts";
import { parseOriginConfig } from "../../origin/src/config.ts";
import { startOrigin } from "../../origin/src/server.ts";
import { startCountingProxy } from "../../origin/test/credentials/connect-harness.ts";
import { TEST_SIGNING_KEY } from "./fake-origin.ts";

/**
 * The real origin (real credential service, policy and audit log) in front of the dev Connect
 * server, whose item writes answer slowly (after they were applied), for the edge tests where the
 * edge gives up (504) while the origin finishes a rotation. Node side of the edge tests.
 */
export const REAL_CONNECT_TOKEN = "dev-connect-token-for-edge-real-origin";
/** Far beyond the edge's ORIGIN_TIMEOUT_MS in the tests (300 ms), well within the origin's Connect timeout. */
export const CONNECT_WRITE_DELAY_MS = 1_500;

export interface RealOrigin {
  originUrl: string;
  /** Connect's URL of services/chittyid, for reading its version and value. */
  itemUrl: string;
  close(): Promise<void>;
}

export async function startRealOrigin(): Promise<RealOrigin> {
  const dir = mkdtempSync(join(tmpdir(), "edge-real-origin-"));
  const connect: RunningConnectServer = await startConnectServer({ port: 0, token: REAL_CONNECT_TOKEN });
  const proxy = await startCountingProxy(connect.url, (method) =>
    method === "PUT" ? CONNECT_WRITE_DELAY_MS : 0,
  );
  const parsed = parseOriginConfig({
    HOST: "127.0.0.1",
    PORT: "0",
    OP_CONNECT_HOST: proxy.url,
    OP_CONNECT_TOKEN: REAL_CONNECT_TOKEN,
    EDGE_SIGNING_KEY: TEST_SIGNING_KEY,
    AUDIT_HMAC_KEY: "audit-hmac-key-for-edge-tests-0123456789",
    AUDIT_CHAIN_KEY: "audit-chain-key-for-edge-tests-012345678",
    POLICY_FILE: new URL("../../origin/fixtures/policy.yaml", import.meta.url).pathname,
    AUDIT_LOG_FILE: join(dir, "audit", "audit.log"),
  });
  if (!parsed.ok) throw new Error(parsed.message);
  const origin = await startOrigin({ config: parsed.config, logger: pino({ level: "silent" }) });
  const vault = connect.store.listVaults().find((candidate) => candidate.name === "services");
  const item = connect.store.listItems(vault?.id ?? "").find((candidate) => candidate.title === "chittyid");
  if (!vault || !item) throw new Error("the dev Connect fixture lacks services/chittyid");
  return {
    originUrl: origin.url,
    itemUrl: `${connect.url}/v1/vaults/${vault.id}/items/${item.id}`,
    async close() {
      await origin.close();
      await proxy.close();
      await connect.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
