import WebSocket from "ws";
import { startStack } from "../test/support/stack.ts";
import { formatTable, type Measurement, measure } from "./harness.ts";

/**
 * `./run bench sessions`: session create/read/update through the local stack's `wrangler dev`,
 * against `GET /health` in the same Worker (no storage, no auth) as the baseline; then the time for
 * one event to reach every one of 100 and 1,000 sockets of one owner.
 * BENCH_SECONDS and BENCH_CONCURRENCY tune the HTTP cases.
 */
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 16);
const options = { concurrency, durationMs: seconds * 1000, warmupMs: 1000 };
const FAN_OUT_SIZES = [100, 1000];
const FAN_OUT_ROUNDS = 5;

// Limits far above what the run sends: this measures the routes, not the limiter refusing them.
const stack = await startStack({ LOG_LEVEL: "warn", RATE_LIMIT_PER_MINUTE: "100000" });
const base = stack.edgeUrl;

async function mint(owner: string): Promise<string> {
  const response = await fetch(`${base}/api/v1/admin/tokens`, {
    method: "POST",
    headers: { authorization: `Bearer ${stack.adminToken}`, "content-type": "application/json" },
    body: JSON.stringify({ owner, scopes: ["sessions:read", "sessions:write"] }),
  });
  if (response.status !== 201) throw new Error(`mint: ${response.status}`);
  return ((await response.json()) as { token: string }).token;
}

async function call(
  token: string,
  method: string,
  path: string,
  body?: unknown,
  expected = 200,
): Promise<string> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (response.status !== expected) throw new Error(`${method} ${path}: ${response.status}`);
  return text;
}

// One owner per worker, as separate clients would be; each owner's object serves its own worker.
const owners = await Promise.all(
  Array.from({ length: concurrency }, async (_, i) => {
    const token = await mint(`01-C-BENCH-${String(i).padStart(4, "0")}-P-2611-A-1`);
    await call(token, "POST", "/api/v1/sessions", { id: "bench" }, 201);
    return token;
  }),
);
let turn = 0;
const nextOwner = () => owners[turn++ % owners.length]!;

const health = async () => {
  const response = await fetch(`${base}/health`);
  await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`health: ${response.status}`);
};
// Create, then delete what was created outside the timed call, so the 1,000-sessions limit never bites.
const created: [string, string][] = [];
const create = async () => {
  const token = nextOwner();
  const { id } = JSON.parse(await call(token, "POST", "/api/v1/sessions", {}, 201)) as { id: string };
  created.push([token, id]);
};
const read = async () => {
  await call(nextOwner(), "GET", "/api/v1/sessions/bench");
};
let counter = 0;
const update = async () => {
  await call(nextOwner(), "PATCH", "/api/v1/sessions/bench", { metadata: { n: counter++ } });
};

console.log(
  `ChittyConnect sessions benchmark: ${seconds}s per case, concurrency ${concurrency}, wrangler dev`,
);
const results: Measurement[] = [];
results.push(await measure("baseline: GET /health", health, options));
results.push(await measure("POST /api/v1/sessions (create)", create, options));
results.push(await measure("GET /api/v1/sessions/{id} (read)", read, options));
results.push(await measure("PATCH /api/v1/sessions/{id} (update)", update, options));
console.log(`\n${formatTable(results)}\n`);
const [baseline, ...others] = results as [Measurement, ...Measurement[]];
console.log("ratios against GET /health in the same wrangler dev (goal: throughput ≥ 0.50, p95 < 15 ms)");
for (const r of others) {
  console.log(
    `  ${r.name}: throughput ×${(r.throughput / baseline.throughput).toFixed(2)}, ` +
      `p50 ×${(r.p50 / baseline.p50).toFixed(2)}, p95 ${r.p95.toFixed(1)} ms (×${(r.p95 / baseline.p95).toFixed(2)})`,
  );
}
for (let i = 0; i < created.length; i += 16) {
  await Promise.all(
    created
      .slice(i, i + 16)
      .map(([token, id]) => call(token, "DELETE", `/api/v1/sessions/${id}`, undefined, 204)),
  );
}

/** Opens `count` sockets of one owner, then times one HTTP-made event until every socket has it. */
async function fanOut(count: number): Promise<number[]> {
  const token = await mint(`01-C-FANOUT-${count}-P-2611-A-1`);
  const sockets: WebSocket[] = [];
  for (let i = 0; i < count; i += 50) {
    const batch = Array.from({ length: Math.min(50, count - i) }, () => {
      const ws = new WebSocket(`${base.replace("http", "ws")}/api/v1/sessions/ws`, {
        headers: { authorization: `Bearer ${token}` },
      });
      sockets.push(ws);
      return new Promise<void>((resolve, reject) => {
        ws.once("open", () => resolve());
        ws.once("error", reject);
      });
    });
    await Promise.all(batch);
  }
  const timings: number[] = [];
  for (let round = 0; round < FAN_OUT_ROUNDS; round++) {
    const key = `fanout-${round}`;
    const arrived = Promise.all(
      sockets.map(
        (ws) =>
          new Promise<void>((resolve) => {
            const onMessage = (data: WebSocket.RawData) => {
              if (data.toString().includes(`"key":"${key}"`)) {
                ws.off("message", onMessage);
                resolve();
              }
            };
            ws.on("message", onMessage);
          }),
      ),
    );
    const started = performance.now();
    await call(token, "PUT", `/api/v1/context/${key}`, { value: round }, 201);
    await arrived;
    timings.push(performance.now() - started);
  }
  for (const ws of sockets) ws.close();
  return timings.sort((a, b) => a - b);
}

console.log("\nfan-out: one context.set event, from the PUT being sent until every socket has it");
const fanOutResults: Record<number, number> = {};
for (const count of FAN_OUT_SIZES) {
  const timings = await fanOut(count);
  const median = timings[Math.floor(timings.length / 2)]!;
  fanOutResults[count] = median;
  console.log(
    `  ${String(count).padStart(5)} sockets: median ${median.toFixed(1)} ms, min ${timings[0]!.toFixed(1)} ms, ` +
      `max ${timings.at(-1)!.toFixed(1)} ms over ${FAN_OUT_ROUNDS} events`,
  );
}
console.log(
  `  1000 vs 100 sockets: ×${(fanOutResults[1000]! / fanOutResults[100]!).toFixed(2)}; ` +
    `1000 vs one GET /health p50: ×${(fanOutResults[1000]! / baseline.p50).toFixed(1)} (goal: < 100 ms at 1,000)`,
);

await stack.stop();
