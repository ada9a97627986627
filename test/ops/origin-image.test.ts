import { type ChildProcess, spawn } from "node:child_process";
import {
  chmodSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { request } from "node:http";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../support/ports.ts";

/**
 * The origin image without a Docker engine: the same files the Dockerfile copies (origin/src,
 * contract/src, production dependencies only, so no pino-pretty), the same environment
 * (NODE_ENV=production, secrets as *_FILE, the peer allow-list compose sets), started the way
 * `docker run -t` starts it: under a terminal.
 */
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts"))
    .map((entry) => join(entry.parentPath, entry.name));
}

/** Bare specifiers imported by a source tree, reduced to package names. */
function importedPackages(dir: string): Set<string> {
  const names = new Set<string>();
  for (const file of sourceFiles(dir)) {
    for (const [, specifier = ""] of readFileSync(file, "utf8").matchAll(
      /(?:from|import)\s*\(?\s*"([^".][^"]*)"/g,
    )) {
      if (specifier.startsWith("node:") || builtinModules.includes(specifier)) continue;
      const parts = specifier.split("/");
      names.add(specifier.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] ?? ""));
    }
  }
  return names;
}

describe("origin/package.json", () => {
  it("declares every package origin/src imports as a production dependency", () => {
    const manifest = JSON.parse(read("origin/package.json")) as { dependencies: Record<string, string> };
    const imported = importedPackages("origin/src");
    expect(imported).toContain("@chittyconnect/contract");
    for (const name of imported) expect(Object.keys(manifest.dependencies), name).toContain(name);
    expect(Object.keys(manifest.dependencies)).not.toContain("pino-pretty");
  });
});

describe("the origin started as its image starts it, under a terminal", () => {
  let dir: string;
  let app: string;
  const children: ChildProcess[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "chitty-origin-image-"));
    app = join(dir, "app");
    // node_modules: every installed package but pino-pretty, which `npm ci --omit=dev` leaves out.
    mkdirSync(join(app, "node_modules"), { recursive: true });
    for (const entry of readdirSync(join(ROOT, "node_modules"))) {
      if (entry === "pino-pretty" || entry.startsWith(".")) continue;
      symlinkSync(join(ROOT, "node_modules", entry), join(app, "node_modules", entry));
    }
    for (const path of ["package.json", "origin/package.json", "origin/src"]) {
      cpSync(join(ROOT, path), join(app, path), { recursive: true });
    }
    const secrets = join(dir, "secrets");
    mkdirSync(secrets);
    const secret = (name: string, value: string) => {
      writeFileSync(join(secrets, name), `${value}\n`);
      chmodSync(join(secrets, name), 0o400);
    };
    secret("op_connect_token", "connect-token-for-the-image-test");
    secret("edge_signing_key", "edge-signing-key-for-the-image-test-0123456789");
    secret("edge_signing_key_previous", "");
    secret("audit_hmac_key", "audit-hmac-key-for-the-image-test-0123456789");
    secret("audit_chain_key", "audit-chain-key-for-the-image-test-012345678");
    mkdirSync(join(dir, "audit"));
  });

  afterAll(() => {
    for (const child of children)
      if (child.exitCode === null && child.pid) process.kill(-child.pid, "SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  /** `script` gives the child a pseudo-terminal, as `docker run -t` does. */
  async function startUnderTerminal(cwd: string, port: number, peers: string) {
    const connectPort = await freePort();
    const child = spawn("script", ["-qfec", "node origin/src/main.ts", "/dev/null"], {
      cwd,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        PATH: process.env.PATH ?? "",
        NODE_ENV: "production",
        HOST: "127.0.0.1",
        PORT: String(port),
        OP_CONNECT_HOST: `http://127.0.0.1:${connectPort}`,
        OP_CONNECT_TOKEN_FILE: join(dir, "secrets/op_connect_token"),
        EDGE_SIGNING_KEY_FILE: join(dir, "secrets/edge_signing_key"),
        EDGE_SIGNING_KEY_PREVIOUS_FILE: join(dir, "secrets/edge_signing_key_previous"),
        AUDIT_HMAC_KEY_FILE: join(dir, "secrets/audit_hmac_key"),
        AUDIT_CHAIN_KEY_FILE: join(dir, "secrets/audit_chain_key"),
        ALLOWED_PEERS: peers,
        POLICY_FILE: join(ROOT, "origin/fixtures/policy.yaml"),
        AUDIT_LOG_FILE: join(dir, "audit", `audit-${port}.log`),
      },
    });
    children.push(child);
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`origin exited ${child.exitCode}: ${output}`);
      const up = await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (response) => response.ok,
        () => false,
      );
      if (up) break;
      if (Date.now() > deadline) throw new Error(`origin did not start: ${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // /healthz can answer before the start-up line has come through the pseudo-terminal.
    while (!output.includes("origin listening") && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return { child, output: () => output };
  }

  it("starts without pino-pretty, logs JSON lines, and takes its secrets from files", async () => {
    const port = await freePort();
    const { child, output } = await startUnderTerminal(app, port, "127.0.0.1");
    expect(output()).toMatch(/\{"level":30,.*"msg":"origin listening"\}/);
    expect(output()).not.toContain("pino-pretty");
    for (const secret of ["connect-token-for-the-image-test", "edge-signing-key-for-the-image-test"]) {
      expect(output()).not.toContain(secret);
    }
    if (child.pid) process.kill(-child.pid, "SIGTERM");
  });

  it("is a real terminal: with pino-pretty installed (a development checkout) the same start pretty-prints", async () => {
    const port = await freePort();
    const { child, output } = await startUnderTerminal(ROOT, port, "127.0.0.1");
    expect(output()).toMatch(/INFO.*origin listening/);
    expect(output()).not.toContain('"msg":"origin listening"');
    if (child.pid) process.kill(-child.pid, "SIGTERM");
  });

  it("refuses connections from a peer outside ALLOWED_PEERS (compose: nginx's network only)", async () => {
    const port = await freePort();
    const { child } = await startUnderTerminal(app, port, "127.0.0.1/32");
    const from = (localAddress: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request(`http://127.0.0.1:${port}/healthz`, { localAddress }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on("error", reject);
        req.end();
      });
    expect(await from("127.0.0.1")).toBe(200);
    await expect(from("127.0.0.3")).rejects.toThrow(/ECONNRESET|socket hang up/);
    if (child.pid) process.kill(-child.pid, "SIGTERM");
  });
});
