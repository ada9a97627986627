import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@chittyconnect/client";
import { repoRoot, startStack } from "../test/support/stack.ts";

/**
 * `./run bench cli`: what `chittyconnect run` adds before and around a child, against running the same
 * child (`node -e …`) directly, in one run: with 0 references (the CLI's own start-up), 1, and 10
 * (distinct purposes, so ten sealed provisions, at most 8 at a time). BENCH_CLI_RUNS rounds
 * (default 15), each case once per round in turn, so load from elsewhere hits every case alike.
 */
const rounds = Number(process.env.BENCH_CLI_RUNS ?? 15);
const BIN = join(repoRoot, "node_modules/.bin/chittyconnect");
const CHILD = ["node", "-e", "process.stdout.write(String(Object.keys(process.env).length))"];

const stack = await startStack({ LOG_LEVEL: "warn" });
const work = mkdtempSync(join(tmpdir(), "chitty-bench-cli-"));
try {
  const admin = createClient({ baseUrl: stack.edgeUrl, token: stack.adminToken });
  const { token } = await admin.tokens.mint({
    owner: "01-C-BENCH-0011-P-2611-A-1",
    scopes: ["credentials:provision"],
    services: ["chittyid"],
  });
  stack.track(token);
  const refs = (n: number) =>
    Array.from(
      { length: n },
      (_, i) => `X${i}=chittyconnect://services/chittyid/service_token?service=chittyid&purpose=bench-${i}\n`,
    ).join("");
  for (const n of [0, 1, 10]) writeFileSync(join(work, `refs-${n}.env`), refs(n));

  const env = {
    PATH: process.env.PATH,
    HOME: work,
    CHITTYCONNECT_URL: stack.edgeUrl,
    CHITTYCONNECT_TOKEN: token,
  };
  const timed = (command: string, args: string[]) =>
    new Promise<number>((resolve, reject) => {
      const started = performance.now();
      const child = spawn(command, args, { cwd: work, env, stdio: "ignore" });
      child.on("error", reject);
      child.on("exit", (code) => {
        if (code !== 0) reject(new Error(`${command} ${args.join(" ")} exited ${code}`));
        else resolve(performance.now() - started);
      });
    });
  const cases: [string, () => Promise<number>][] = [
    ["node -e … directly", () => timed(CHILD[0]!, CHILD.slice(1))],
    ...[0, 1, 10].map(
      (n) =>
        [
          `chittyconnect run, ${n} reference${n === 1 ? "" : "s"}`,
          () => timed(BIN, ["run", "--env-file", `refs-${n}.env`, "--", ...CHILD]),
        ] as [string, () => Promise<number>],
    ),
  ];
  // One warm-up round: the first provision of a path resolves titles at the origin.
  for (const [, run] of cases) await run();
  const samples = new Map<string, number[]>(cases.map(([name]) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const [name, run] of cases) samples.get(name)!.push(await run());
  }
  const stats = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
    return { p50: at(0.5), p90: at(0.9), min: sorted[0]! };
  };
  const baseline = stats(samples.get(cases[0]![0])!).p50;
  const header = ["case", "p50 ms", "p90 ms", "min ms", "p50 ÷ direct", "p50 − direct ms"];
  const rows = cases.map(([name]) => {
    const s = stats(samples.get(name)!);
    return [
      name,
      s.p50.toFixed(0),
      s.p90.toFixed(0),
      s.min.toFixed(0),
      `×${(s.p50 / baseline).toFixed(2)}`,
      (s.p50 - baseline).toFixed(0),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  console.log(`chittyconnect run start-up, ${rounds} rounds (sealed provisions through the local stack)`);
  console.log([line(header), ...rows.map(line)].join("\n"));
} finally {
  rmSync(work, { recursive: true, force: true });
  await stack.stop();
}
