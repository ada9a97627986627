import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuditEntrySchema, CredentialResponseSchema, type SigningKey } from "@chittyconnect/contract";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type RunningConnectServer, startConnectServer } from "../../../dev/src/connect/server.ts";
import { type RunningOrigin, startOrigin } from "../../src/server.ts";
import { CONNECT_TOKEN, type LocalServer, startCountingProxy } from "../credentials/connect-harness.ts";
import { signedFetch, signingKey } from "../helpers/signed-fetch.ts";
import { captureLogger, OWNER, SIGNING_SECRET, testConfig } from "../http/harness.ts";

/**
 * Idempotency-Key through the real origin, the real credential service and the dev Connect server
 * behind a proxy that answers item writes slowly (after Connect has applied them): the situation
 * where the edge gives up (504) while the rotation still completes.
 */
const POLICY = new URL("../../fixtures/policy.yaml", import.meta.url).pathname;
const VAULT = "services";
const ITEM = "chittyid";
const PATH = `${VAULT}/${ITEM}/service_token`;
const WRITE_DELAY_MS = 600;

let connect: RunningConnectServer;
let proxy: LocalServer;
let key: SigningKey;
let dir: string;
let origin: RunningOrigin;

beforeAll(async () => {
  connect = await startConnectServer({ port: 0, token: CONNECT_TOKEN });
  proxy = await startCountingProxy(connect.url, (method) => (method === "PUT" ? WRITE_DELAY_MS : 0));
  key = await signingKey(SIGNING_SECRET);
});
afterAll(async () => {
  await proxy.close();
  await connect.close();
});

function start(): Promise<RunningOrigin> {
  return startOrigin({
    config: testConfig({
      OP_CONNECT_HOST: proxy.url,
      OP_CONNECT_TOKEN: CONNECT_TOKEN,
      POLICY_FILE: POLICY,
      AUDIT_LOG_FILE: join(dir, "audit", "audit.log"),
    }),
    logger: captureLogger().logger,
  });
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "origin-idem-"));
  origin = await start();
});
afterEach(async () => {
  await origin.close();
});

/** The item as Connect holds it: its version counts every write, so it counts rotations. */
function item() {
  const services = connect.store.listVaults().find((vault) => vault.name === VAULT);
  const found = connect.store.listItems(services?.id ?? "").find((candidate) => candidate.title === ITEM);
  if (!found) throw new Error("fixture item missing");
  const value = found.fields?.find((field) => field.label === "service_token")?.value;
  return { version: found.version, value };
}

const puts = () => proxy.requests.filter((line) => line.startsWith("PUT ")).length;

function call(action: "rotate" | "provision", idempotencyKey: string | undefined, purpose = "retry test") {
  return signedFetch(`${origin.url}/v1/credentials/${action}`, {
    key,
    owner: OWNER,
    body: { service: "chittyid", credentialPath: PATH, purpose, idempotencyKey },
  });
}

async function credential(response: Response) {
  expect(response.status).toBe(200);
  const body = CredentialResponseSchema.parse(await response.json());
  if (body.sealed) throw new Error("expected a plain value");
  return body;
}

async function problemCode(response: Response, status: number): Promise<string | undefined> {
  expect(response.status).toBe(status);
  return ((await response.json()) as { code?: string }).code;
}

describe("Idempotency-Key at the origin", () => {
  it("rotates once: a concurrent retry gets 409, a later one the first version, re-read from Connect", async () => {
    const before = item();
    const putsBefore = puts();
    const first = call("rotate", "rotate-once-0001");
    // The first request is waiting on Connect's slow answer; its key is claimed.
    await new Promise((resolve) => setTimeout(resolve, WRITE_DELAY_MS / 3));
    const concurrent = await call("rotate", "rotate-once-0001");
    expect(await problemCode(concurrent, 409)).toBe("idempotency_key_in_use");
    expect(concurrent.headers.get("retry-after")).toBe("1");

    const rotated = await credential(await first);
    expect(rotated.version).toBe(before.version + 1);
    expect(rotated.replayed).toBeUndefined();

    const retried = await credential(await call("rotate", "rotate-once-0001"));
    expect(retried).toMatchObject({ replayed: true, version: rotated.version, value: rotated.value });
    expect(retried.lease.id).not.toBe(rotated.lease.id);
    expect(item()).toEqual({ version: before.version + 1, value: rotated.value });
    expect(puts() - putsBefore).toBe(1);
  });

  it("answers 422 when the key comes back with another body, and for the other action", async () => {
    await credential(await call("rotate", "mismatch-0001", "first purpose"));
    const before = item();
    expect(await problemCode(await call("rotate", "mismatch-0001", "second purpose"), 422)).toBe(
      "idempotency_key_reused",
    );
    expect(await problemCode(await call("provision", "mismatch-0001", "first purpose"), 422)).toBe(
      "idempotency_key_reused",
    );
    expect(item()).toEqual(before);
  });

  it("remembers the key across an origin restart", async () => {
    const rotated = await credential(await call("rotate", "restart-00001"));
    await origin.close();
    origin = await start();
    const putsBefore = puts();
    const retried = await credential(await call("rotate", "restart-00001"));
    expect(retried).toMatchObject({ replayed: true, version: rotated.version, value: rotated.value });
    expect(puts()).toBe(putsBefore);
  });

  it("replays the current value when the item moved on since, with its current version", async () => {
    const first = await credential(await call("rotate", "moved-on-0001"));
    const second = await credential(await call("rotate", "moved-on-0002"));
    const retried = await credential(await call("rotate", "moved-on-0001"));
    expect(retried).toMatchObject({ replayed: true, version: second.version, value: second.value });
    expect(retried.version).toBe((first.version ?? 0) + 1);
  });

  it("does not remember a request that failed: its retry runs again", async () => {
    const missing = (purpose: string) =>
      signedFetch(`${origin.url}/v1/credentials/rotate`, {
        key,
        owner: OWNER,
        body: {
          service: "chittyid",
          credentialPath: "services/nope/x",
          purpose,
          idempotencyKey: "failed-0001",
        },
      });
    expect(await problemCode(await missing("a"), 404)).toBe("credential_not_found");
    // Released, so the key is free even for another body.
    expect(await problemCode(await missing("b"), 404)).toBe("credential_not_found");
  });

  it("records the key in the audit trail and marks the replay; the key file holds no value or token", async () => {
    const rotated = await credential(await call("rotate", "audited-0001"));
    await credential(await call("rotate", "audited-0001"));
    await origin.close();
    // The log is written in numbered segments beside AUDIT_LOG_FILE; two lines fit in the first.
    const lines = readFileSync(join(dir, "audit", "audit.log.000001"), "utf8")
      .trim()
      .split("\n")
      .map((line) => AuditEntrySchema.parse(JSON.parse(line)));
    expect(lines.map((line) => [line.action, line.outcome, line.idempotencyKey, line.reason])).toEqual([
      ["rotate", "allowed", "audited-0001", undefined],
      ["rotate", "allowed", "audited-0001", "idempotent_replay"],
    ]);
    const stored = readdirSync(join(dir, "audit"))
      .filter((name) => name.startsWith("idempotency.sqlite"))
      .map((name) => readFileSync(join(dir, "audit", name)).toString("latin1"))
      .join("");
    expect(stored).toContain("audited-0001");
    expect(stored).not.toContain(rotated.value);
    expect(stored).not.toContain(CONNECT_TOKEN);
    expect(stored).not.toContain(SIGNING_SECRET);
    origin = await start();
  });

  it("refuses a malformed key in the signed body with 400", async () => {
    const response = await call("rotate", "no spaces allowed");
    expect(await problemCode(response, 400)).toBe("validation_failed");
  });
});
