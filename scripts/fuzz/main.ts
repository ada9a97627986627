import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { type RunningStack, startStack } from "../../test/support/stack.ts";
import { prepareContext } from "./context.ts";
import { failures, formatReport, runFuzz } from "./run.ts";

/**
 * `npm run fuzz -- [--requests N] [--seed S] [--concurrency C] [--target URL --state-dir DIR]`:
 * starts the local stack on free ports (or targets a running one), fires generated requests at
 * the edge, then checks every process's output for secrets. Exits 1 when anything counted.
 */
const USAGE =
  "usage: npm run fuzz -- [--requests 2000] [--seed N] [--concurrency 16] [--target http://127.0.0.1:8787 --state-dir .local] [--json]";

let values: ReturnType<typeof parse>;
function parse() {
  // `./run fuzz -- --requests N` reaches us as `-- --requests N` (./run adds its own `--`).
  const args = process.argv.slice(2);
  return parseArgs({
    args: args[0] === "--" ? args.slice(1) : args,
    options: {
      requests: { type: "string", default: "2000" },
      seed: { type: "string" },
      concurrency: { type: "string", default: "16" },
      target: { type: "string" },
      "state-dir": { type: "string", default: ".local" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
    strict: true,
  }).values;
}
try {
  values = parse();
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
  process.exit(2);
}
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const count = (name: string, text: string | undefined, min: number) => {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min) {
    process.stderr.write(`--${name} must be an integer ≥ ${min}\n${USAGE}\n`);
    process.exit(2);
  }
  return value;
};
const requests = count("requests", values.requests, 1);
const concurrency = count("concurrency", values.concurrency, 1);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : count("seed", values.seed, 0);

let stack: RunningStack | undefined;
let target: string;
let adminToken: string;
let stackSecrets: string[];
if (values.target) {
  // A running stack (e.g. `./run start`): its keys come from its state dir.
  const secrets = JSON.parse(
    readFileSync(join(resolve(values["state-dir"]), "secrets.json"), "utf8"),
  ) as Record<string, string>;
  target = values.target;
  adminToken = process.env.ADMIN_TOKEN ?? secrets.adminToken ?? "";
  stackSecrets = [...Object.values(secrets), adminToken];
} else {
  process.stdout.write("fuzz: starting the local stack on free ports…\n");
  stack = await startStack();
  target = stack.edgeUrl;
  adminToken = stack.adminToken;
  stackSecrets = [...Object.values(stack.secrets() as Record<string, string>), adminToken];
}

// Ctrl-C stops sending and still prints what was counted (and stops the stack).
const interrupted = new AbortController();
process.once("SIGINT", () => interrupted.abort());
process.once("SIGTERM", () => interrupted.abort());

let exitCode = 0;
try {
  const context = await prepareContext(target, adminToken);
  for (const token of context.tokens) stack?.track(token);
  const report = await runFuzz({
    target,
    context,
    secrets: [...stackSecrets, ...context.tokens],
    requests,
    seed,
    concurrency,
    signal: interrupted.signal,
    onProgress: (done) => {
      if (done % Math.max(1, Math.floor(requests / 10)) === 0)
        process.stderr.write(`fuzz: ${done}/${requests}\n`);
    },
  });
  const logLeaks = stack?.leaks();
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ ...report, secretsInLogs: logLeaks?.length ?? null })}\n`);
  } else {
    process.stdout.write(formatReport(report));
    process.stdout.write(
      logLeaks === undefined
        ? "  secrets in logs   not checked (--target: the stack's output is not ours to read)\n"
        : `  secrets in logs   ${logLeaks.length}\n${logLeaks.map((line) => `  ! ${line}\n`).join("")}`,
    );
  }
  if (failures(report) > 0 || (logLeaks?.length ?? 0) > 0 || interrupted.signal.aborted) exitCode = 1;
} finally {
  if (stack) {
    try {
      await stack.stop();
    } catch (error) {
      process.stderr.write(`${(error as Error).message}\n`);
      exitCode = 1;
    }
  }
}
process.exit(exitCode);
