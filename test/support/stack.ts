import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { redactUrlCredentials } from "../../dev/src/stack/redact.ts";
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
  /** Adds a token the test minted to the values no log line may carry. */
  track(token: string): void;
  /** Log lines (process output and nginx's log files) that carry a secret, described without it. */
  leaks(): string[];
  /** Stops the stack; rejects when any log line carried a secret (see `leaks`). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** The start-up banner prints the admin token and a fresh token on purpose: its lines are exempt. */
const BANNER_RULE = "━━━━━━━━━━";

export function withoutBanner(output: string): string {
  const start = output.indexOf(BANNER_RULE);
  if (start < 0) return output;
  const end = output.indexOf(BANNER_RULE, output.indexOf("\n", start));
  return end < 0 ? output.slice(0, start) : output.slice(0, start) + output.slice(output.indexOf("\n", end));
}

/** Which named secrets each line carries, as `where:line#: name` (never the value). */
export function findLeaks(where: string, text: string, secrets: ReadonlyMap<string, string>): string[] {
  const found: string[] = [];
  text.split("\n").forEach((line, index) => {
    for (const [name, value] of secrets) {
      if (value.length >= 8 && line.includes(value)) found.push(`${where}:${index + 1}: ${name}`);
    }
  });
  return found;
}

/** Lines that still carry a credential in a URL (a presigned token, a WebSocket ticket) after the runner's redaction. */
export function findUrlCredentials(where: string, text: string): string[] {
  const found: string[] = [];
  text.split("\n").forEach((line, index) => {
    if (redactUrlCredentials(line) !== line) found.push(`${where}:${index + 1}: a credential in a URL`);
  });
  return found;
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
  const minted: string[] = [];
  const secretsOf = (): Map<string, string> => {
    const named = new Map<string, string>([["ADMIN_TOKEN", adminToken]]);
    const file = join(stateDir, "secrets.json");
    if (existsSync(file)) {
      for (const [name, value] of Object.entries(
        JSON.parse(readFileSync(file, "utf8")) as Record<string, string>,
      )) {
        named.set(`secrets.json ${name}`, value);
      }
    }
    const bannerToken = /Authorization: Bearer (cc_\S+?)'/.exec(output)?.[1];
    if (bannerToken) named.set("the banner's token", bannerToken);
    for (const [index, token] of minted.entries()) named.set(`minted token #${index + 1}`, token);
    return named;
  };
  const leaks = () => {
    const secrets = secretsOf();
    const found = [
      ...findLeaks("output", withoutBanner(output), secrets),
      ...findUrlCredentials("output", withoutBanner(output)),
    ];
    const logDir = join(stateDir, "nginx", "logs");
    if (existsSync(logDir)) {
      for (const name of readdirSync(logDir)) {
        const text = readFileSync(join(logDir, name), "utf8");
        found.push(
          ...findLeaks(`nginx/${name}`, text, secrets),
          ...findUrlCredentials(`nginx/${name}`, text),
        );
      }
    }
    return found;
  };
  return {
    edgeUrl: `http://127.0.0.1:${edgePort}`,
    originUrl: `http://127.0.0.1:${originPort}`,
    connectUrl: `http://127.0.0.1:${connectPort}`,
    adminToken,
    stateDir,
    child,
    output: () => output,
    secrets: () => JSON.parse(readFileSync(join(stateDir, "secrets.json"), "utf8")),
    track: (token) => {
      minted.push(token);
    },
    leaks,
    async stop(signal: NodeJS.Signals = "SIGINT") {
      if (child.exitCode === null) child.kill(signal);
      const code = await exited;
      if (!existsSync(stateDir)) return code;
      const found = leaks();
      rmSync(stateDir, { recursive: true, force: true });
      if (found.length > 0) throw new Error(`secrets in the stack's logs:\n${found.slice(0, 20).join("\n")}`);
      return code;
    },
  };
}
