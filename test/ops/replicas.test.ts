import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { AuditListResponseSchema, type SigningKey } from "@chittyconnect/contract";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningConnectServer, startConnectServer } from "../../dev/src/connect/server.ts";
import { signedInit, signingKey } from "../../origin/test/helpers/signed-fetch.ts";
import { freePort } from "../support/ports.ts";
import { findRedisServer, type RunningRedis, startRedis } from "../support/redis.ts";
import { findNginx, type RunningNginx, startNginx } from "./nginx-harness.ts";

const nginxBinary = findNginx();
const redisBinary = findRedisServer();
if (!nginxBinary || !redisBinary) console.warn("replica tests skipped: they need nginx and redis-server");

const CONNECT_TOKEN = "connect-token-for-replica-tests";
const SIGNING_SECRET = "edge-signing-secret-for-replica-tests-0123456789";
const OWNER = "01-C-TEST-0001-P-2501-A-X";
const CREDENTIAL = {
  service: "chittyid",
  credentialPath: "services/chittyid/service_token",
  purpose: "replicas",
};
const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

interface Replica {
  url: string;
  auditLog: string;
  child: ChildProcess;
}

/** One origin replica as its own process, the way compose and the local stack run them. */
async function startReplica(
  name: string,
  dir: string,
  redisUrl: string,
  connectUrl: string,
): Promise<Replica> {
  const port = await freePort();
  const auditLog = join(dir, `audit-${name}.log`);
  const child = spawn(process.execPath, ["origin/src/main.ts"], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH,
      HOST: "127.0.0.1",
      PORT: String(port),
      LOG_LEVEL: "warn",
      OP_CONNECT_HOST: connectUrl,
      OP_CONNECT_TOKEN: CONNECT_TOKEN,
      EDGE_SIGNING_KEY: SIGNING_SECRET,
      AUDIT_HMAC_KEY: "audit-hmac-key-for-replica-tests-0123456789",
      AUDIT_CHAIN_KEY: "audit-chain-key-for-replica-tests-012345678",
      POLICY_FILE: join(repoRoot, "origin/fixtures/policy.yaml"),
      AUDIT_LOG_FILE: auditLog,
      REDIS_URL: redisUrl,
      CLOCK_SKEW_MS: "0",
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  while (
    !(await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    ))
  ) {
    if (child.exitCode !== null) throw new Error(`replica ${name} exited: ${stderr}`);
    if (Date.now() > deadline) throw new Error(`replica ${name} did not start: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { url, auditLog, child };
}

function stopReplica(replica: Replica | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (!replica || replica.child.exitCode !== null) return resolve();
    replica.child.once("exit", () => resolve());
    replica.child.kill("SIGTERM");
  });
}

describe.skipIf(!nginxBinary || !redisBinary)("two origin replicas behind nginx, sharing Redis", () => {
  let dir: string;
  let connect: RunningConnectServer;
  let redis: RunningRedis;
  let replicas: Replica[] = [];
  let nginx: RunningNginx;
  let key: SigningKey;

  /** What one replica recorded, read through its own signed /v1/audit (its own chain only). */
  const requestIdsAt = async (replica: Replica): Promise<string[]> => {
    const url = `${replica.url}/v1/audit?limit=100`;
    const response = await fetch(url, await signedInit(url, { key, owner: OWNER }));
    expect(response.status).toBe(200);
    const { entries } = AuditListResponseSchema.parse(await response.json());
    return entries.map((entry) => entry.requestId);
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "chitty-replicas-"));
    connect = await startConnectServer({ port: 0, token: CONNECT_TOKEN });
    redis = await startRedis(redisBinary ?? "");
    replicas = await Promise.all(["a", "b"].map((name) => startReplica(name, dir, redis.url, connect.url)));
    nginx = await startNginx(nginxBinary ?? "", dir, {
      upstream: replicas.map((replica) => new URL(replica.url).host),
    });
    key = await signingKey(SIGNING_SECRET);
  });

  afterAll(async () => {
    await nginx?.close();
    await Promise.all(replicas.map(stopReplica));
    await redis?.stop();
    await connect?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("serves through both replicas, each writing its own audit chain", async () => {
    const url = `${nginx.url}/v1/credentials/provision`;
    const ids = Array.from({ length: 6 }, (_, i) => `req-replicas-${i}`);
    for (const id of ids) {
      const init = await signedInit(url, { key, owner: OWNER, body: CREDENTIAL, requestId: id });
      expect((await fetch(url, init)).status).toBe(200);
    }
    const [a, b] = await Promise.all(replicas.map(requestIdsAt));
    expect(replicas[0]?.auditLog).not.toBe(replicas[1]?.auditLog);
    expect(a?.length).toBeGreaterThan(0);
    expect(b?.length).toBeGreaterThan(0);
    expect([...(a ?? []), ...(b ?? [])].sort()).toEqual([...ids].sort());
  });

  it("refuses a request replayed to the other replica with 401", async () => {
    const url = `${nginx.url}/v1/credentials/provision`;
    const init = await signedInit(url, {
      key,
      owner: OWNER,
      body: CREDENTIAL,
      requestId: "req-replay-original",
    });
    expect((await fetch(url, init)).status).toBe(200);
    const seen = await Promise.all(replicas.map(requestIdsAt));
    const servedBy = seen.findIndex((ids) => ids.includes("req-replay-original"));
    expect(servedBy).toBeGreaterThanOrEqual(0);
    const other = replicas[1 - servedBy] as Replica;

    // The captured request, byte for byte, straight to the replica that never saw it…
    const direct = await fetch(`${other.url}/v1/credentials/provision`, init);
    expect(direct.status).toBe(401);
    expect(((await direct.json()) as { code: string }).code).toBe("unauthenticated");
    // …and through nginx again, whichever replica it lands on.
    for (let i = 0; i < 4; i++) {
      const again = await fetch(url, init);
      expect(again.status).toBe(401);
      await again.arrayBuffer();
    }
  });
});
