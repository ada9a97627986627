import { startStack } from "../test/support/stack.ts";
import { formatTable, type Measurement, measure } from "./harness.ts";

/**
 * `./run bench rate-limit`: what the exact limiter adds to a request. The same authenticated route
 * (`GET /api/v1/sessions/{id}`) in the same `wrangler dev`, for an owner the limiter counts and for
 * one it skips (`RATE_LIMIT_EXEMPT_OWNERS`, a development-only setting the edge refuses elsewhere);
 * the usage ledger runs for both. The skipped owner is measured before and after the counted one,
 * so drift in the machine's speed shows. Limits are raised so that nothing is refused.
 * BENCH_SECONDS and BENCH_CONCURRENCY tune the run.
 */
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 16);
const options = { concurrency, durationMs: seconds * 1000, warmupMs: 1000 };
const LIMITED = "01-C-BENCH-0001-P-2611-A-1";
const EXEMPT = "01-C-BENCH-0002-P-2611-A-1";

const stack = await startStack({
  LOG_LEVEL: "warn",
  RATE_LIMIT_PER_MINUTE: "100000",
  RATE_LIMIT_EXEMPT_OWNERS: EXEMPT,
});
const base = stack.edgeUrl;

async function prepare(owner: string): Promise<string> {
  const minted = await fetch(`${base}/api/v1/admin/tokens`, {
    method: "POST",
    headers: { authorization: `Bearer ${stack.adminToken}`, "content-type": "application/json" },
    body: JSON.stringify({ owner, scopes: ["sessions:read", "sessions:write"] }),
  });
  if (minted.status !== 201) throw new Error(`mint: ${minted.status}`);
  const { token } = (await minted.json()) as { token: string };
  const created = await fetch(`${base}/api/v1/sessions`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ id: "bench" }),
  });
  if (created.status !== 201) throw new Error(`create: ${created.status}`);
  return token;
}

const [limited, exempt] = await Promise.all([prepare(LIMITED), prepare(EXEMPT)]);

const read = (token: string, counted: boolean) => async () => {
  const response = await fetch(`${base}/api/v1/sessions/bench`, {
    headers: { authorization: `Bearer ${token}` },
  });
  await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`read: ${response.status}`);
  if (counted !== response.headers.has("ratelimit-limit")) throw new Error("limiter on/off not as expected");
};

console.log(
  `ChittyConnect rate-limit benchmark: ${seconds}s per case, concurrency ${concurrency}, wrangler dev`,
);
const results: Measurement[] = [];
try {
  results.push(await measure("limiter off (exempt owner)", read(exempt, false), options));
  results.push(await measure("limiter on", read(limited, true), options));
  results.push(await measure("limiter off again", read(exempt, false), options));
} finally {
  await stack.stop();
}
console.log(`\n${formatTable(results)}\n`);
const [off, on, offAgain] = results as [Measurement, Measurement, Measurement];
const offP50 = (off.p50 + offAgain.p50) / 2;
const offThroughput = (off.throughput + offAgain.throughput) / 2;
console.log(
  "the limiter's cost on GET /api/v1/sessions/{id}, against the same route with it off (mean of both runs)",
);
console.log(
  `  added p50 ${(on.p50 - offP50).toFixed(2)} ms (×${(on.p50 / offP50).toFixed(2)}), ` +
    `throughput ×${(on.throughput / offThroughput).toFixed(2)}; off runs differ by ×${(offAgain.p50 / off.p50).toFixed(2)} in p50`,
);
if (results.some((r) => r.errors > 0)) {
  console.error("some requests failed (see errors above)");
  process.exitCode = 1;
}
