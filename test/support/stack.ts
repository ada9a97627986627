import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort } from "./ports.ts";

export const repoRoot = resolve(import.meta.dirname, "../..");

export interface RunningStack {
  edgeUrl: string;
  originUrl: string;
  connectUrl: string;
  adminToken: string;
  stateDir: string;
  output: () => string;
  secrets: () => { edgeSigningKey: string; connectToken: string; auditChainKey: string };
  child: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `npm start`'s runner exactly as a user would, on free ports and a throw-away state dir. */
export async function startStack(extraEnv: Record<string, string> = {}): Promise<RunningStack> {
  const [edgePort, originPort, connectPort, nginxPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const stateDir = mkdtempSync(join(tmpdir(), "chitty-stack-"));
  const adminToken = `adm_test_${Math.random().toString(36).slice(2)}_0123456789`;
  const child = spawn(process.execPath, ["dev/src/stack/main.ts"], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      EDGE_PORT: String(edgePort),
      ORIGIN_PORT: String(originPort),
      CONNECT_PORT: String(connectPort),
      NGINX_PORT: String(nginxPort),
      ADMIN_TOKEN: adminToken,
      STACK_STATE_DIR: stateDir,
      ...extraEnv,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolveExit) => child.on("exit", (code) => resolveExit(code)));

  const deadline = Date.now() + 170_000;
  while (!output.includes("ChittyConnect is up")) {
    if (child.exitCode !== null) throw new Error(`stack exited early:\n${output}`);
    if (Date.now() > deadline) {
      child.kill("SIGINT");
      throw new Error(`stack did not come up in time:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    edgeUrl: `http://127.0.0.1:${edgePort}`,
    originUrl: `http://127.0.0.1:${originPort}`,
    connectUrl: `http://127.0.0.1:${connectPort}`,
    adminToken,
    stateDir,
    child,
    output: () => output,
    secrets: () => JSON.parse(readFileSync(join(stateDir, "secrets.json"), "utf8")),
    async stop(signal: NodeJS.Signals = "SIGINT") {
      if (child.exitCode === null) child.kill(signal);
      const code = await exited;
      rmSync(stateDir, { recursive: true, force: true });
      return code;
    },
  };
}
