import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AuditEntrySchema,
  CredentialResponseSchema,
  ProblemError,
  type ProvisionRequest,
} from "@chittyconnect/contract";
import { compactDecrypt, exportJWK, generateKeyPair } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type RunningConnectServer, startConnectServer } from "../../../dev/src/connect/server.ts";
import { verifyLog } from "../../src/audit/chain.ts";
import { valueHmac } from "../../src/audit/entry.ts";
import { segmentPath } from "../../src/audit/segments.ts";
import type { AuditSink } from "../../src/audit/sink.ts";
import { type CredentialService, createCredentialService } from "../../src/credentials/service.ts";
import { createMetrics, type OriginMetrics } from "../../src/metrics.ts";
import {
  CONNECT_TOKEN,
  credentialConfig,
  type LocalServer,
  OWNER,
  silentLogger,
  startCountingProxy,
} from "./connect-harness.ts";

const POLICY = new URL("../../fixtures/policy.yaml", import.meta.url).pathname;
const HMAC_KEY = "audit-hmac-key-for-tests-0123456789abcdef";
const CHAIN_KEY = "audit-chain-key-for-tests-0123456789abcdef";
const NOW = new Date("2026-01-02T03:04:05.000Z");

let connect: RunningConnectServer;
const cleanup: Array<() => Promise<void>> = [];

beforeAll(async () => {
  connect = await startConnectServer({ port: 0, token: CONNECT_TOKEN });
});
afterAll(async () => {
  await connect.close();
});
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close();
});

interface Started {
  service: CredentialService;
  auditFile: string;
  metrics: OriginMetrics;
}

async function start(
  options: {
    host?: string;
    sink?: (file: string) => AuditSink;
    policyFile?: string;
    env?: Record<string, string>;
  } = {},
): Promise<Started> {
  const auditFile = join(mkdtempSync(join(tmpdir(), "service-")), "audit", "audit.log");
  const config = credentialConfig({
    OP_CONNECT_HOST: options.host ?? connect.url,
    POLICY_FILE: options.policyFile ?? POLICY,
    AUDIT_LOG_FILE: auditFile,
    AUDIT_HMAC_KEY: HMAC_KEY,
    LEASE_TTL_SECONDS: "600",
    ...options.env,
  });
  const metrics = createMetrics();
  const service = await createCredentialService(
    config,
    { logger: silentLogger(), metrics },
    { now: () => NOW, ...(options.sink ? { auditSink: options.sink(auditFile) } : {}) },
  );
  cleanup.push(() => service.close());
  return { service, auditFile, metrics };
}

async function proxied(): Promise<LocalServer> {
  const proxy = await startCountingProxy(connect.url);
  cleanup.push(() => proxy.close());
  return proxy;
}

const caller = (requestId = "req-1", owner = OWNER, services = ["chittyrouter"]) => ({
  owner,
  services,
  requestId,
});
const provision = (credentialPath: string, extra: Partial<ProvisionRequest> = {}): ProvisionRequest => ({
  service: "chittyrouter",
  credentialPath,
  purpose: "boot",
  ...extra,
});
const auditLines = (file: string) =>
  readFileSync(segmentPath(file, 1), "utf8")
    .trimEnd()
    .split("\n")
    .map((line) => AuditEntrySchema.parse(JSON.parse(line)));
const rejection = async (promise: Promise<unknown>) => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof ProblemError)) throw new Error(`expected a ProblemError, got ${String(error)}`);
  return error;
};
const outcomes = async (metrics: OriginMetrics) =>
  Object.fromEntries(
    (await metrics.credentialOutcomes.get()).values.map((v) => [
      `${v.labels.action}:${v.labels.outcome}`,
      v.value,
    ]),
  );

describe("provision", () => {
  it("returns the value with a lease and audits an allowed line holding only the value's HMAC", async () => {
    const { service, auditFile, metrics } = await start();
    const response = await service.provision(caller(), provision("services/chittyid/service_token"));
    expect(CredentialResponseSchema.parse(response)).toMatchObject({
      credentialPath: "services/chittyid/service_token",
      sealed: false,
      value: "dev-chittyid-service-token-7f3c9a41",
      lease: { issuedAt: NOW.toISOString(), expiresAt: new Date(NOW.getTime() + 600_000).toISOString() },
    });
    const [entry] = auditLines(auditFile);
    expect(entry).toMatchObject({
      seq: 1,
      requestId: "req-1",
      owner: OWNER,
      service: "chittyrouter",
      action: "provision",
      outcome: "allowed",
      sealed: false,
      leaseId: response.lease.id,
      valueHmac: valueHmac(HMAC_KEY, "dev-chittyid-service-token-7f3c9a41"),
    });
    expect(readFileSync(segmentPath(auditFile, 1), "utf8")).not.toContain("dev-chittyid-service-token");
    expect(await outcomes(metrics)).toEqual({ "provision:allowed": 1 });
  });

  it("denies what policy does not grant before any Connect call, and audits the denial", async () => {
    const proxy = await proxied();
    const { service, auditFile, metrics } = await start({ host: proxy.url });
    const problem = await rejection(service.provision(caller(), provision("emergency/break-glass/password")));
    expect(problem).toMatchObject({ status: 403, code: "policy_denied" });
    expect(proxy.requests).toEqual([]);
    expect(auditLines(auditFile)).toMatchObject([
      { outcome: "denied", credentialPath: "emergency/break-glass/password" },
    ]);
    expect(await outcomes(metrics)).toEqual({ "provision:denied": 1 });
  });

  it("refuses a service the token is not bound to, before Connect, and audits the denial", async () => {
    const proxy = await proxied();
    const { service, auditFile, metrics } = await start({ host: proxy.url });
    const problem = await rejection(
      service.provision(caller("req-1", OWNER, ["billing"]), provision("services/chittyid/service_token")),
    );
    expect(problem).toMatchObject({ status: 403, code: "service_not_allowed" });
    expect(proxy.requests).toEqual([]);
    expect(auditLines(auditFile)).toMatchObject([
      { outcome: "denied", service: "chittyrouter", reason: "the token is not bound to this service" },
    ]);
    expect(await outcomes(metrics)).toEqual({ "provision:denied": 1 });
  });

  it("audits a failed look-up and passes the problem on", async () => {
    const { service, auditFile } = await start();
    const problem = await rejection(service.provision(caller(), provision("services/nothing-here/api_key")));
    expect(problem).toMatchObject({ status: 404, code: "credential_not_found" });
    expect(auditLines(auditFile)).toMatchObject([{ outcome: "failed", reason: "credential_not_found" }]);
  });

  it("seals the value to the recipient's key", async () => {
    const { service, auditFile } = await start();
    const pair = await generateKeyPair("ECDH-ES", { crv: "P-256", extractable: true });
    const jwk = await exportJWK(pair.publicKey);
    const response = await service.provision(
      caller(),
      provision("services/chittyauth/api_key", {
        recipientPublicKey: { kty: "EC", crv: "P-256", x: jwk.x as string, y: jwk.y as string, kid: "k1" },
      }),
    );
    if (!response.sealed) throw new Error("expected a sealed response");
    expect(JSON.stringify(response)).not.toContain("dev-chittyauth");
    const opened = await compactDecrypt(response.jwe, pair.privateKey);
    expect(new TextDecoder().decode(opened.plaintext)).toBe("dev-chittyauth-api-key-2b8e51d0");
    expect(auditLines(auditFile)).toMatchObject([{ outcome: "allowed", sealed: true }]);
  });

  it("fails with 503 audit_unavailable and withholds the value when the audit line cannot be written", async () => {
    const { service, metrics } = await start({
      sink: () => ({ append: () => Promise.reject(new Error("EIO")), close: async () => {} }),
    });
    const problem = await rejection(
      service.provision(caller(), provision("services/chittyid/service_token")),
    );
    expect(problem).toMatchObject({ status: 503, code: "audit_unavailable" });
    expect(JSON.stringify(problem.toProblem())).not.toContain("dev-chittyid");
    expect((await outcomes(metrics))["provision:allowed"]).toBeUndefined();
  });
});

describe("audit volume reserve", () => {
  it("refuses provision and rotate with 503 audit_disk_full before touching Connect", async () => {
    const proxy = await proxied();
    // A reserve larger than any disk: the real statfs reading is always under it.
    const { service, auditFile } = await start({
      host: proxy.url,
      env: { AUDIT_DISK_RESERVE_BYTES: String(2 ** 50) },
    });
    const before = proxy.requests.length;
    for (const call of [service.provision, service.rotate]) {
      const problem = await rejection(call(caller(), provision("services/chittyrouter beta/api_key")));
      expect(problem).toMatchObject({
        status: 503,
        code: "audit_disk_full",
        headers: { "retry-after": "60" },
      });
    }
    expect(proxy.requests.length).toBe(before);
    expect(await verifyLog(auditFile, CHAIN_KEY)).toMatchObject({ ok: true, count: 0 });
  });
});

describe("rotate", () => {
  it("rotates through Connect; the next provision returns the new value", async () => {
    const { service, auditFile, metrics } = await start();
    const rotated = await service.rotate(caller("r1"), provision("services/chittyrouter beta/api_key"));
    if (rotated.sealed) throw new Error("expected a plain response");
    expect(rotated.value).toMatch(/^[A-Za-z0-9]{32}$/);
    const again = await service.provision(caller("r2"), provision("services/chittyrouter beta/api_key"));
    expect(again).toMatchObject({ value: rotated.value });
    expect(auditLines(auditFile)).toMatchObject([
      { action: "rotate", outcome: "allowed", valueHmac: valueHmac(HMAC_KEY, rotated.value) },
      { action: "provision", outcome: "allowed" },
    ]);
    expect(await outcomes(metrics)).toEqual({ "rotate:allowed": 1, "provision:allowed": 1 });
  });

  it("does not rotate when the recipient key is unusable", async () => {
    const { service, auditFile } = await start();
    const before = await service.provision(caller(), provision('services/chittyid "legacy"/service_token'));
    const problem = await rejection(
      service.rotate(
        caller(),
        provision('services/chittyid "legacy"/service_token', {
          recipientPublicKey: { kty: "EC", crv: "P-256", x: "AAAA", y: "AAAA" },
        }),
      ),
    );
    expect(problem).toMatchObject({ status: 400, code: "invalid_recipient_key" });
    const after = await service.provision(caller(), provision('services/chittyid "legacy"/service_token'));
    expect(after).toMatchObject({ value: (before as { value: string }).value });
    expect(auditLines(auditFile).map((e) => e.outcome)).toEqual(["allowed", "failed", "allowed"]);
  });

  it("is denied outside services", async () => {
    const { service } = await start();
    const problem = await rejection(service.rotate(caller(), provision("integrations/stripe/secret_key")));
    expect(problem).toMatchObject({ status: 403, code: "policy_denied" });
  });
});

describe("audit listing", () => {
  it("returns only the caller's entries, newest first, with a valid chain on disk", async () => {
    const { service, auditFile } = await start();
    await service.provision(caller("a1"), provision("services/chittyid/service_token"));
    await service.provision(caller("b1", "other-owner-01"), provision("services/chittyauth/api_key"));
    await rejection(service.provision(caller("a2"), provision("emergency/break-glass/password")));
    const mine = await service.audit(OWNER, { limit: 50 });
    expect(mine.entries.map((e) => e.requestId)).toEqual(["a2", "a1"]);
    const page = await service.audit(OWNER, { limit: 1 });
    expect(page).toMatchObject({ entries: [{ requestId: "a2" }], nextBefore: 3 });
    expect(await verifyLog(auditFile, CHAIN_KEY)).toMatchObject({ ok: true, count: 3 });
  });
});

describe("start-up and readiness", () => {
  it("refuses a bad policy file, naming it", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "policy-")), "bad.yaml");
    writeFileSync(file, "version: 1\nrules: [{ owners: ['*'] }]\n");
    await expect(start({ policyFile: file })).rejects.toThrow(new RegExp(`Invalid policy file ${file}`));
  });

  it("reports Connect unsynced until warm-up, then ready", async () => {
    const fresh = await startConnectServer({ port: 0, token: CONNECT_TOKEN });
    cleanup.push(() => fresh.close());
    const { service } = await start({ host: fresh.url });
    expect(await service.readiness()).toMatchObject({ status: "unready", connect: { synced: false } });
    await service.warmUp();
    expect(await service.readiness()).toMatchObject({
      status: "ready",
      connect: { reachable: true, synced: true },
    });
  });
});
