import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { importSigningKey, signRequest } from "@chittyconnect/contract";
import { startConnectServer } from "../dev/src/connect/server.ts";
import { AuditLog } from "../origin/src/audit/log.ts";
import { formatTable, type Measurement, measure } from "./harness.ts";
import { startOriginProcess } from "./origin-process.ts";

/**
 * `npm run bench audit`: an origin whose audit log holds AUDIT_BENCH_LINES lines (1,000,000 by
 * default) written straight through the log's writer. Prints the origin's start-up verification
 * time, its RSS while 8 clients page `/v1/audit?limit=50` at once (goal: under 128 MB), and their
 * p50 against `/healthz` in the same run. The origin runs in its own process so its RSS is its own.
 */
const repoRoot = resolve(import.meta.dirname, "..");
const lines = Number(process.env.AUDIT_BENCH_LINES ?? 1_000_000);
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const concurrency = 8;
const owners = 1000;
const RSS_GOAL_MB = 128;

const TOKEN = "bench-connect-token-0123456789";
const SIGNING_SECRET = "bench-signing-key-0123456789-abcdefghijklmnop";
const CHAIN_KEY = "bench-audit-chain-key-0123456789-abcdefghijk";
const ownerId = (i: number) => `01-C-BENCH-${String(i).padStart(4, "0")}-P-2611-A-1`;

const workDir = mkdtempSync(join(tmpdir(), "chitty-audit-bench-"));
const base = join(workDir, "audit", "audit.log");

console.log(`ChittyConnect audit benchmark: ${lines.toLocaleString("en")} lines, ${owners} owners`);
let started = performance.now();
const log = await AuditLog.open({
  base,
  key: CHAIN_KEY,
  segmentBytes: 64 * 1024 * 1024,
  diskReserveBytes: 0,
});
const CHUNK = 4096;
for (let done = 0; done < lines; done += CHUNK) {
  const count = Math.min(CHUNK, lines - done);
  await Promise.all(
    Array.from({ length: count }, (_, i) =>
      log.append({
        requestId: `bench-${done + i}`,
        owner: ownerId((done + i) % owners),
        service: "chittyid",
        action: "provision",
        credentialPath: "services/chittyid/service_token",
        purpose: "benchmark",
        outcome: "allowed",
        sealed: false,
        leaseId: "3f0c8a52-5a4e-4a8e-9d0e-4b1c2f6a9e11",
        valueHmac: "9".repeat(64),
      }),
    ),
  );
}
await log.close();
const segments = readdirSync(join(workDir, "audit")).filter((name) => /\.\d{6}$/.test(name));
const bytes = segments.reduce((sum, name) => sum + statSync(join(workDir, "audit", name)).size, 0);
console.log(
  `wrote ${lines.toLocaleString("en")} lines (${(bytes / 2 ** 20).toFixed(0)} MiB in ${segments.length} segments) ` +
    `through the writer in ${((performance.now() - started) / 1000).toFixed(1)} s`,
);

const connect = await startConnectServer({ port: 0, token: TOKEN, synced: true });
started = performance.now();
const origin = await startOriginProcess({
  OP_CONNECT_HOST: connect.url,
  OP_CONNECT_TOKEN: TOKEN,
  EDGE_SIGNING_KEY: SIGNING_SECRET,
  AUDIT_HMAC_KEY: "bench-audit-key-0123456789-abcdefghijklmnopq",
  AUDIT_CHAIN_KEY: CHAIN_KEY,
  POLICY_FILE: join(repoRoot, "origin/fixtures/policy.yaml"),
  AUDIT_LOG_FILE: base,
});
const startMs = performance.now() - started;
console.log(
  `origin start-up: audit chain verified in ${(origin.verifyMs / 1000).toFixed(2)} s ` +
    `(${Math.round(lines / (origin.verifyMs / 1000)).toLocaleString("en")} lines/s); listening after ${(startMs / 1000).toFixed(2)} s`,
);

const key = await importSigningKey(SIGNING_SECRET);
let calls = 0;
const auditPage = async () => {
  const owner = ownerId(calls++ % owners);
  const url = `${origin.url}/v1/audit?limit=50`;
  const headers = await signRequest({ method: "GET", url, owner, services: ["*"], key });
  const response = await fetch(url, { headers });
  const body = (await response.json()) as { entries: unknown[] };
  if (response.status !== 200 || body.entries.length !== 50) throw new Error(`status ${response.status}`);
};
const healthz = async () => {
  const response = await fetch(`${origin.url}/healthz`);
  await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`status ${response.status}`);
};

const options = { concurrency, durationMs: seconds * 1000, warmupMs: 1000 };
const rssBefore = origin.rssMiB();
const sampler = origin.sampleRss(20);
const audit = await measure(`origin: GET /v1/audit?limit=50 (${concurrency} at once)`, auditPage, options);
const peak = sampler.stop();
const health = await measure(`origin: GET /healthz (${concurrency} at once)`, healthz, options);
const results: Measurement[] = [audit, health];
console.log(`\n${formatTable(results)}\n`);
console.log(`audit page p50 ×${(audit.p50 / health.p50).toFixed(2)} of /healthz p50 (lower is better)`);
console.log(
  `origin RSS: ${rssBefore.toFixed(0)} MiB before, peak ${peak.toFixed(0)} MiB during the audit calls ` +
    `(goal < ${RSS_GOAL_MB} MB = ${((RSS_GOAL_MB * 1e6) / 2 ** 20).toFixed(0)} MiB: ${peak * 2 ** 20 < RSS_GOAL_MB * 1e6 ? "met" : "NOT met"})`,
);

await origin.close();
await connect.close();
rmSync(workDir, { recursive: true, force: true });
