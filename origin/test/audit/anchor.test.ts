import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { importSigningKey, MemoryNonceStore, verifyRequest } from "@chittyconnect/contract";
import { afterEach, describe, expect, it } from "vitest";
import { ANCHOR_PATH, type Anchor, AnchorClient, type ChainHead } from "../../src/audit/anchor.ts";
import { AnchorReporter } from "../../src/audit/anchor-reporter.ts";
import { AuditLog } from "../../src/audit/log.ts";
import { openAuditTrail } from "../../src/audit/trail.ts";
import { credentialConfig, silentLogger } from "../credentials/connect-harness.ts";

const SIGNING_SECRET = "edge-signing-secret-for-tests-0123456789";
const CHAIN_KEY = "audit-chain-key-for-tests-0123456789abcdef";
const key = await importSigningKey(SIGNING_SECRET);
const run = promisify(execFile);
const VERIFY_CLI = new URL("../../src/audit/verify-cli.ts", import.meta.url).pathname;

interface FakeEdge {
  url: string;
  heads: Map<string, Anchor>;
  /** Method and path of every request that verified. */
  calls: string[];
  /** Answer the next n requests with 503. */
  failNext(n: number): void;
  close(): Promise<void>;
}

/**
 * The edge's anchor route as the origin sees it, over real HTTP: checks the contract signature,
 * keeps the head per instance and refuses one that goes back. (The real route is tested in
 * workerd, edge/test/audit-anchor.test.ts.)
 */
async function startFakeEdge(): Promise<FakeEdge> {
  const heads = new Map<string, Anchor>();
  const calls: string[] = [];
  const nonces = new MemoryNonceStore();
  let failures = 0;
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = new Uint8Array(Buffer.concat(chunks));
    const answer = (status: number, data: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(data));
    };
    if (failures > 0) {
      failures--;
      return answer(503, { code: "unavailable" });
    }
    const headers = new Headers(req.headers as Record<string, string>);
    const verified = await verifyRequest({
      method: req.method!,
      url: `http://127.0.0.1${req.url}`,
      headers,
      body,
      keys: [key],
      nonces,
    });
    if (!verified.ok) return answer(401, { code: "unauthorized" });
    calls.push(`${req.method} ${req.url}`);
    if (req.method === "GET") {
      const held = heads.get(decodeURIComponent(req.url!.slice(ANCHOR_PATH.length + 1)));
      return held ? answer(200, held) : answer(404, { code: "anchor_not_found" });
    }
    const report = JSON.parse(Buffer.from(body).toString()) as ChainHead;
    const held = heads.get(report.instance);
    if (held && (report.seq < held.seq || (report.seq === held.seq && report.hash !== held.hash))) {
      return answer(409, { code: "audit_anchor_conflict", anchor: held });
    }
    const stored = { ...report, reportedAt: new Date().toISOString() };
    heads.set(report.instance, stored);
    return answer(200, stored);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    heads,
    calls,
    failNext: (n) => {
      failures = n;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close();
});

async function fakeEdge() {
  const edge = await startFakeEdge();
  cleanup.push(() => edge.close());
  return edge;
}

const tempBase = () => join(mkdtempSync(join(tmpdir(), "anchor-")), "audit.log");
const record = {
  requestId: "r",
  owner: "owner-01",
  service: "s",
  action: "provision",
  credentialPath: "a/b/c",
} as const;
const entry = { ...record, purpose: "p", outcome: "allowed", sealed: false } as const;

async function openLog(base = tempBase(), instance = "origin-test") {
  const log = await AuditLog.open({
    base,
    key: CHAIN_KEY,
    segmentBytes: 1 << 20,
    diskReserveBytes: 0,
    instance,
  });
  cleanup.push(() => log.close());
  return log;
}

function reporter(
  log: AuditLog,
  edgeUrl: string,
  options: { everyEntries?: number; reconciled?: boolean } = {},
) {
  const events = { reported: [] as Anchor[], failed: [] as number[], conflicts: 0 };
  const r = new AnchorReporter({
    log,
    client: new AnchorClient({ edgeUrl, key, timeoutMs: 1000 }),
    intervalMs: 60_000,
    everyEntries: options.everyEntries ?? 5,
    retryBaseMs: 10,
    maxAttempts: 4,
    reconciled: options.reconciled ?? true,
    events: {
      reported: (a) => events.reported.push(a),
      failed: (attempt) => events.failed.push(attempt),
      conflict: () => events.conflicts++,
    },
  });
  cleanup.push(() => r.close());
  return { reporter: r, events };
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
};

describe("anchor reporter", () => {
  it("reports the head at start, every N entries and on close, signed", async () => {
    const edge = await fakeEdge();
    const log = await openLog();
    const { reporter: r, events } = reporter(log, edge.url, { everyEntries: 5 });
    await until(() => events.reported.length === 1);
    expect(edge.heads.get("origin-test")).toMatchObject({ seq: 0 });
    for (let i = 0; i < 4; i++) await log.append(entry);
    expect(events.reported).toHaveLength(1);
    await log.append(entry);
    await until(() => edge.heads.get("origin-test")?.seq === 5);
    await log.append(entry);
    await r.close();
    expect(edge.heads.get("origin-test")).toMatchObject({ seq: 6, hash: log.head().hash });
    expect(edge.calls.every((c) => c === `POST ${ANCHOR_PATH}`)).toBe(true);
  });

  it("retries a failed report with backoff and then succeeds", async () => {
    const edge = await fakeEdge();
    edge.failNext(3);
    const log = await openLog();
    await log.append(entry);
    const { events } = reporter(log, edge.url);
    await until(() => events.reported.length === 1);
    expect(events.failed).toEqual([1, 2, 3]);
    expect(edge.heads.get("origin-test")).toMatchObject({ seq: 1 });
  });

  it("keeps going after giving up on one report when the edge is down", async () => {
    const edge = await fakeEdge();
    edge.failNext(4);
    const log = await openLog();
    const { reporter: r, events } = reporter(log, edge.url);
    await until(() => events.failed.length === 4);
    expect(events.reported).toHaveLength(0);
    await r.trigger();
    expect(events.reported).toHaveLength(1);
  });

  it("refuses new entries when the edge holds a head the log does not contain", async () => {
    const edge = await fakeEdge();
    const log = await openLog();
    await log.append(entry);
    edge.heads.set("origin-test", { instance: "origin-test", seq: 9, hash: "f".repeat(64), reportedAt: "x" });
    const { events } = reporter(log, edge.url, { reconciled: false });
    await until(() => events.conflicts === 1);
    await expect(log.append(entry)).rejects.toThrow(/does not contain the head the edge anchored/);
    expect(edge.heads.get("origin-test")).toMatchObject({ seq: 9 });
  });
});

describe("audit trail at start", () => {
  const config = (base: string, edgeUrl: string) =>
    credentialConfig({
      OP_CONNECT_HOST: "http://127.0.0.1:9",
      EDGE_SIGNING_KEY: SIGNING_SECRET,
      AUDIT_CHAIN_KEY: CHAIN_KEY,
      AUDIT_LOG_FILE: base,
      EDGE_URL: edgeUrl,
    });

  it("fetches the anchor and refuses to start when the log's tail was cut", async () => {
    const edge = await fakeEdge();
    const base = tempBase();
    const trail = await openAuditTrail(config(base, edge.url), silentLogger());
    for (let i = 0; i < 3; i++) await trail.log.append(entry);
    await trail.close();
    const instance = trail.log.instance;
    expect(edge.heads.get(instance)).toMatchObject({ seq: 3 });
    // Someone removes the last line; the edge still holds seq 3.
    const segment = `${base}.000001`;
    const lines = readFileSync(segment, "utf8").trimEnd().split("\n");
    writeFileSync(segment, `${lines.slice(0, 2).join("\n")}\n`);
    await expect(openAuditTrail(config(base, edge.url), silentLogger())).rejects.toThrow(
      /ends at seq 2 but the edge anchored seq 3 \(tail cut\)/,
    );
    expect(edge.calls).toContain(`GET ${ANCHOR_PATH}/${instance}`);
  });

  it("audit:verify --edge fetches the anchor and shows the cut tail", async () => {
    const edge = await fakeEdge();
    const base = tempBase();
    const trail = await openAuditTrail(config(base, edge.url), silentLogger());
    for (let i = 0; i < 3; i++) await trail.log.append(entry);
    await trail.close();
    const env = { ...process.env, AUDIT_CHAIN_KEY: CHAIN_KEY, EDGE_SIGNING_KEY: SIGNING_SECRET };
    const ok = await run(process.execPath, [VERIFY_CLI, base, "--edge", edge.url], { env });
    expect(ok.stdout).toMatch(/^OK 3 entries .* contains the anchor at seq 3/);
    const segment = `${base}.000001`;
    writeFileSync(segment, `${readFileSync(segment, "utf8").trimEnd().split("\n").slice(0, 1).join("\n")}\n`);
    const cut = await run(process.execPath, [VERIFY_CLI, base, "--edge", edge.url], { env }).catch((e) => e);
    expect(cut).toMatchObject({
      code: 1,
      stdout: expect.stringMatching(/ends at seq 1 but the edge anchored seq 3/),
    });
  });

  it("starts when the edge is unreachable (the reporter checks the anchor once it answers)", async () => {
    const edge = await fakeEdge();
    const base = tempBase();
    const first = await openAuditTrail(config(base, edge.url), silentLogger());
    await first.log.append(entry);
    await first.close();
    const down = await fakeEdge();
    await down.close();
    const started = performance.now();
    const trail = await openAuditTrail(config(base, down.url), silentLogger());
    expect(trail.log.head().seq).toBe(1);
    await trail.close();
    // close() cuts the reporter's backoff short instead of waiting it out.
    expect(performance.now() - started).toBeLessThan(5000);
  });
});
