import { spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

const repoRoot = resolve(import.meta.dirname, "..");

/** The flags origin/Dockerfile runs the origin with, so the RSS measured here is production's. */
export const ORIGIN_NODE_OPTIONS = "--max-semi-space-size=1 --disable-warning=ExperimentalWarning";

export interface OriginProcess {
  url: string;
  pid: number;
  /** The origin's own start-up audit verification time (from its "audit chain verified" line). */
  verifyMs: number;
  /** Resident set size now, from /proc (Linux). */
  rssMiB(): number;
  /** Samples RSS every `ms` until stop(), which returns the peak in MiB. */
  sampleRss(ms: number): { stop(): number };
  close(): Promise<void>;
}

/**
 * Starts `origin/src/main.ts` as production does (its own Node process, JSON logs on stdout) so its
 * memory is measured alone. stdout goes to a file, like a container's log driver, rather than a
 * pipe this process would have to drain while it is also the load generator.
 */
export async function startOriginProcess(env: Record<string, string>): Promise<OriginProcess> {
  const dir = mkdtempSync(join(tmpdir(), "chitty-origin-"));
  const logFile = join(dir, "origin.log");
  const out = openSync(logFile, "w");
  const child = spawn(process.execPath, ["origin/src/main.ts"], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH,
      HOST: "127.0.0.1",
      PORT: "0",
      LOG_LEVEL: "info",
      NODE_OPTIONS: ORIGIN_NODE_OPTIONS,
      ...env,
    },
    stdio: ["ignore", out, "inherit"],
  });
  closeSync(out);
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  let url: string | undefined;
  let verifyMs = Number.NaN;
  const deadline = Date.now() + 600_000;
  while (!url) {
    if (child.exitCode !== null) throw new Error(`origin exited with ${child.exitCode} during start-up`);
    if (Date.now() > deadline) throw new Error("origin did not start within 10 minutes");
    await sleep(50);
    for (const line of readFileSync(logFile, "utf8").split("\n")) {
      if (!line.startsWith("{")) continue;
      const record = JSON.parse(line) as { msg?: string; url?: string; ms?: number };
      if (record.msg === "audit chain verified" && typeof record.ms === "number") verifyMs = record.ms;
      if (record.msg === "origin listening" && record.url) url = record.url;
    }
  }
  const pid = child.pid!;
  const rssMiB = () => {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) / 1024 : Number.NaN;
  };
  return {
    url,
    pid,
    verifyMs,
    rssMiB,
    sampleRss(ms) {
      let peak = rssMiB();
      const timer = setInterval(() => {
        peak = Math.max(peak, rssMiB());
      }, ms);
      return {
        stop() {
          clearInterval(timer);
          return Math.max(peak, rssMiB());
        },
      };
    },
    async close() {
      child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
