import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { wranglerBin, wranglerDevArgs, wranglerEnv } from "../dev/src/stack/wrangler.ts";
import { freePort } from "../test/support/ports.ts";
import { formatTable, type Measurement, measure } from "./harness.ts";

/**
 * `./run bench platform`: the cost of the whole platform middleware stack (edge/src/platform/stack.ts:
 * request log, security headers, CORS, 405, caching, and whatever joins that list) on a simple
 * authenticated GET. The same handler, `GET /api/v1/context`, is timed through the stack and at
 * `/__bench/bare/api/v1/context` behind bearer auth only (PLATFORM_BENCH_BARE_ROUTE=true), in one
 * `wrangler dev`, alternating rounds so drift hits both alike. Goal: stack ≥ 0.85 of bare req/s.
 * BENCH_SECONDS (5 per round) and BENCH_CONCURRENCY (16) tune it.
 */
const repoRoot = resolve(import.meta.dirname, "..");
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 16);
const ROUNDS = 2;
const GOAL = 0.85;
const wrangler = wranglerBin(repoRoot);
const work = mkdtempSync(join(tmpdir(), "chitty-platformbench-"));
const ADMIN = `adm_bench_${randomBytes(16).toString("hex")}`;
const quiet = wranglerEnv(process.env);
let edge: ChildProcess | undefined;

async function until(url: string, deadline = Date.now() + 180_000): Promise<void> {
  for (;;) {
    try {
      await (await fetch(url)).arrayBuffer();
      return;
    } catch {
      if (Date.now() > deadline || edge?.exitCode != null) throw new Error(`${url} did not come up`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}

try {
  const port = await freePort();
  const state = join(work, "state");
  const config = ["--config", "edge/wrangler.jsonc"];
  writeFileSync(
    join(work, "edge.env"),
    `ADMIN_TOKEN=${ADMIN}\nEDGE_SIGNING_KEY=${randomBytes(32).toString("hex")}\nDOCUMENT_URL_SIGNING_KEY=${randomBytes(32).toString("hex")}\n`,
  );
  const migrated = spawnSync(
    wrangler,
    ["d1", "migrations", "apply", "DB", "--local", "--persist-to", state, ...config],
    { cwd: repoRoot, env: quiet, encoding: "utf8" },
  );
  if (migrated.status !== 0) throw new Error(`D1 migrations failed: ${migrated.stderr.slice(-1000)}`);
  let log = "";
  edge = spawn(
    wrangler,
    wranglerDevArgs(port, [
      ...config,
      "--persist-to",
      state,
      "--env-file",
      join(work, "edge.env"),
      "--var",
      "PLATFORM_BENCH_BARE_ROUTE:true",
      // The limiter still runs on every request and is part of the measured cost; only its ceiling
      // is raised, so the bench counts answers and not 429s.
      "--var",
      "RATE_LIMIT_SESSIONS_PER_MINUTE:100000",
    ]),
    { cwd: repoRoot, env: quiet, stdio: ["ignore", "pipe", "pipe"], detached: true },
  );
  // Kept (not printed) so a failure can show why; every request log line lands here too.
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4000);
  };
  edge.stdout?.on("data", keep);
  edge.stderr?.on("data", keep);
  const base = `http://127.0.0.1:${port}`;
  await until(`${base}/health`).catch((error: unknown) => {
    throw new Error(`${(error as Error).message}\n${log}`);
  });

  const minted = await fetch(`${base}/api/v1/admin/tokens`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
    body: JSON.stringify({
      owner: "01-C-BENCH-0003-P-2611-A-1",
      scopes: ["sessions:read", "sessions:write"],
    }),
  });
  if (minted.status !== 201) throw new Error(`mint: ${minted.status}`);
  const auth = { authorization: `Bearer ${((await minted.json()) as { token: string }).token}` };
  const seeded = await fetch(`${base}/api/v1/context/bench`, {
    method: "PUT",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({ value: { note: "platform bench", items: [1, 2, 3] } }),
  });
  if (seeded.status !== 201 && seeded.status !== 200) throw new Error(`seed: ${seeded.status}`);

  const get = (path: string) => async () => {
    const response = await fetch(`${base}${path}`, { headers: auth });
    await response.arrayBuffer();
    if (response.status !== 200) throw new Error(`${path}: ${response.status}`);
  };
  const bare = get("/__bench/bare/api/v1/context");
  const stacked = get("/api/v1/context");
  // The bare route must really skip the stack, or the ratio measures nothing.
  const probe = await fetch(`${base}/__bench/bare/api/v1/context`, { headers: auth });
  await probe.arrayBuffer();
  if (probe.status !== 200 || probe.headers.has("strict-transport-security")) {
    throw new Error(`the bare route is not bare: ${probe.status}`);
  }

  console.log(
    `ChittyConnect platform stack benchmark: ${ROUNDS}×${seconds}s per case, concurrency ${concurrency}, wrangler dev`,
  );
  const options = { concurrency, durationMs: seconds * 1000, warmupMs: 1000 };
  const rounds: { bare: Measurement; stacked: Measurement }[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    rounds.push({
      bare: await measure(`bare: GET /__bench/bare/api/v1/context (round ${round})`, bare, options),
      stacked: await measure(`platform stack: GET /api/v1/context (round ${round})`, stacked, options),
    });
  }
  console.log(`\n${formatTable(rounds.flatMap((r) => [r.bare, r.stacked]))}\n`);
  const sum = (pick: (r: (typeof rounds)[number]) => Measurement, key: "throughput" | "p50") =>
    rounds.reduce((total, r) => total + pick(r)[key], 0);
  const ratio = sum((r) => r.stacked, "throughput") / sum((r) => r.bare, "throughput");
  const p50 = sum((r) => r.stacked, "p50") / sum((r) => r.bare, "p50");
  console.log(
    `platform stack against bare, same wrangler dev: throughput ×${ratio.toFixed(2)} (goal ≥ ${GOAL}), ` +
      `p50 ×${p50.toFixed(2)} — ${ratio >= GOAL ? "meets the goal" : "BELOW the goal"}`,
  );
} finally {
  if (edge?.pid !== undefined) {
    try {
      process.kill(-edge.pid, "SIGTERM");
    } catch {
      // Already gone.
    }
  }
  await new Promise((r) => setTimeout(r, 1500));
  rmSync(work, { recursive: true, force: true });
}
