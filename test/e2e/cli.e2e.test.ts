import { spawn } from "node:child_process";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { brotliDecompressSync, gunzipSync, inflateSync } from "node:zlib";
import { type ChittyClient, createClient } from "@chittyconnect/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { normalizeDocument } from "../../client/src/openapi-document.ts";
import { freePort } from "../support/ports.ts";
import { type RunningStack, repoRoot, startStack } from "../support/stack.ts";

const OWNER = "01-C-E2E-0011-P-2611-A-1";
const PATH = "services/chittyid/service_token";
const REF = `chittyconnect://${PATH}?service=chittyid`;
const BIN = join(repoRoot, "node_modules/.bin/chittyconnect");
/** `chittyconnect: <title>[: detail] (<code>, request <id>)` */
const errorLine = (code: string) => new RegExp(`^chittyconnect: .+ \\(${code}, request [\\w-]+\\)\\n$`);

let stack: RunningStack;
let admin: ChittyClient;
let token: string;
const dirs: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "chitty-cli-"));
  dirs.push(dir);
  return dir;
}

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI as a user runs it: the bin npm links, a HOME of its own, only the variables given. */
function cli(
  args: string[],
  options: { env?: Record<string, string>; input?: string; cwd?: string; home?: string } = {},
): Promise<Ran> {
  const home = options.home ?? tempDir();
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, args, {
      cwd: options.cwd ?? home,
      env: {
        PATH: process.env.PATH,
        HOME: home,
        TMPDIR: home,
        CHITTYCONNECT_URL: stack.edgeUrl,
        CHITTYCONNECT_TOKEN: token,
        ...options.env,
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c));
    child.stderr.on("data", (c: Buffer) => (stderr += c));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? "");
  });
}

async function mint(scopes: string[], owner = OWNER): Promise<string> {
  const minted = await admin.tokens.mint({
    owner,
    scopes: scopes as Parameters<ChittyClient["tokens"]["mint"]>[0]["scopes"],
    ...(scopes.some((s) => s.startsWith("credentials:")) ? { services: ["chittyid"] } : {}),
  });
  stack.track(minted.token);
  return minted.token;
}

/** The value as the edge hands it out now (unsealed, through the SDK). */
async function currentValue(): Promise<string> {
  const edge = createClient({ baseUrl: stack.edgeUrl, token });
  return (
    await edge.credentials.provision({
      service: "chittyid",
      credentialPath: PATH,
      purpose: "e2e check",
      seal: false,
    })
  ).value;
}

/** Every file under `dir` (recursively) whose bytes contain `value`. */
function filesContaining(dir: string, value: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const file = join(entry.parentPath, entry.name);
    if (readFileSync(file).includes(value)) found.push(file);
  }
  return found;
}

/** The dev Connect server's process, found by its port in its environment. */
function connectPid(): number {
  const port = new URL(stack.connectUrl).port;
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      const environ = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
      if (cmdline.includes("dev/src/connect/main.ts") && environ.includes(`CONNECT_PORT=${port}`))
        return Number(pid);
    } catch {
      // A process that ended while we looked.
    }
  }
  throw new Error("the dev Connect process was not found");
}

/** A recording HTTP proxy between the CLI and the edge: every response body that passed through it. */
async function recordingProxy(target: string): Promise<{ url: string; bodies: string[]; server: Server }> {
  const bodies: string[] = [];
  const upstream = new URL(target);
  const server = createServer((incoming, outgoing) => {
    const forward = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: incoming.method,
        path: incoming.url,
        headers: { ...incoming.headers, host: upstream.host },
      },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on("data", (c: Buffer) => chunks.push(c));
        answer.on("end", () => {
          const body = Buffer.concat(chunks);
          // Recorded as the client reads it: a compressed body would hide the value from the check.
          const decode = { gzip: gunzipSync, br: brotliDecompressSync, deflate: inflateSync }[
            String(answer.headers["content-encoding"] ?? "")
          ];
          bodies.push((decode ? decode(body) : body).toString());
          outgoing.writeHead(answer.statusCode ?? 502, answer.headers).end(body);
        });
      },
    );
    incoming.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, bodies, server };
}

describe("end to end: the chittyconnect CLI against npm start's stack", () => {
  beforeAll(async () => {
    stack = await startStack();
    admin = createClient({ baseUrl: stack.edgeUrl, token: stack.adminToken });
    token = await mint(["credentials:provision", "credentials:rotate", "usage:read"]);
  }, 200_000);

  afterAll(async () => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    await stack?.stop();
  });

  it("client/openapi.json is the document the edge serves (else: run ./run client:generate)", async () => {
    const served = normalizeDocument(await (await fetch(`${stack.edgeUrl}/api/v1/openapi.json`)).json());
    const committed = readFileSync(join(repoRoot, "client/openapi.json"), "utf8");
    expect(
      `${JSON.stringify(served, null, 2)}\n` === committed,
      "client/openapi.json differs from the edge's document: run ./run client:generate and commit the result",
    ).toBe(true);
  });

  it("the banner's CLI lines and the README's command-line block work as pasted", async () => {
    const value = await currentValue();
    const banner = stack.output();
    const start = banner.indexOf("Or with the command-line client");
    const lines = banner
      .slice(start)
      .split("\n")
      .slice(2, 5)
      .map((line) => line.trim());
    expect(lines[0]).toMatch(/^export CHITTYCONNECT_URL=\S+ CHITTYCONNECT_TOKEN=cc_\S+$/);
    const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Command-line client"));
    const block = (/```sh\n([\s\S]*?)\n```/.exec(section)?.[1] ?? "")
      .split("\n")
      .filter((line) => !line.startsWith("export CHITTYCONNECT_"))
      .join("\n");
    expect(block).toContain("npx chittyconnect run --env-file refs.env");
    // Where a user would run it: a folder of their own with the repository's node_modules (npx finds the bin there).
    const dir = tempDir();
    symlinkSync(join(repoRoot, "node_modules"), join(dir, "node_modules"));
    const script = (text: string) =>
      new Promise<Ran>((resolve) => {
        const child = spawn("bash", ["-e", "-c", text], {
          cwd: dir,
          env: { PATH: process.env.PATH, HOME: dir },
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (c: Buffer) => (stdout += c));
        child.stderr.on("data", (c: Buffer) => (stderr += c));
        child.on("close", (code) => resolve({ code, stdout, stderr }));
      });
    const fromBanner = await script(lines.join("\n"));
    expect(fromBanner).toMatchObject({ code: 0, stdout: `${value.length}\n` });
    const fromReadme = await script([lines[0], block].join("\n"));
    expect(fromReadme.code, fromReadme.stderr).toBe(0);
    expect(fromReadme.stdout).toContain(`${value}${value.length}\n<concealed by chittyconnect>\n`);
    expect(fromReadme.stdout).toMatch(/^origin\s+ok/m);
    expect(readFileSync(join(dir, "app.yaml"), "utf8")).toBe(`token: ${value}\n`);
    expect(statSync(join(dir, "app.yaml")).mode & 0o777).toBe(0o600);
  });

  it("every command has --help", async () => {
    for (const command of [
      [],
      ["provision"],
      ["rotate"],
      ["run"],
      ["inject"],
      ["audit"],
      ["tokens"],
      ["tokens", "mint"],
      ["tokens", "list"],
      ["tokens", "revoke"],
      ["status"],
      ["login"],
      ["logout"],
    ]) {
      const { code, stdout } = await cli([...command, "--help"]);
      expect(code, command.join(" ")).toBe(0);
      expect(stdout).toMatch(/^Usage: chittyconnect/);
    }
  });

  it("provision prints the value alone, sealed by default; --json adds the lease", async () => {
    const value = await currentValue();
    const plain = await cli(["provision", PATH, "--service", "chittyid", "--purpose", "e2e cli"]);
    expect(plain).toEqual({ code: 0, stdout: value, stderr: "" });
    const json = await cli(["provision", REF, "--purpose", "e2e cli", "--service", "chittyid", "--json"]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      credentialPath: PATH,
      value,
      sealed: true,
      lease: { id: expect.any(String) },
    });
  });

  it("sealed provision never carries the value over the wire; --no-seal does", async () => {
    const value = await currentValue();
    const proxy = await recordingProxy(stack.edgeUrl);
    try {
      const env = { CHITTYCONNECT_URL: proxy.url };
      const sealed = await cli(["provision", PATH, "--service", "chittyid", "--purpose", "e2e wire"], {
        env,
      });
      expect(sealed.stdout).toBe(value);
      expect(proxy.bodies).toHaveLength(1);
      expect(proxy.bodies[0]).toContain('"jwe":"');
      expect(proxy.bodies.some((body) => body.includes(value))).toBe(false);

      const open = await cli(
        ["provision", PATH, "--service", "chittyid", "--purpose", "e2e wire", "--no-seal"],
        { env },
      );
      expect(open.stdout).toBe(value);
      expect(proxy.bodies[1]).toContain(value);
    } finally {
      proxy.server.close();
    }
  });

  it("refusals: exit code and one line with the problem's code and request id", async () => {
    const args = ["provision", PATH, "--service", "chittyid", "--purpose", "e2e refusal"];
    const badToken = await cli(args, { env: { CHITTYCONNECT_TOKEN: "cc_not_a_real_token" } });
    expect(badToken.code).toBe(3);
    expect(badToken.stderr).toMatch(errorLine("unauthorized"));

    const provisionOf = (path: string) => ["provision", path, "--service", "chittyid", "--purpose", "e2e"];
    const denied = await cli(provisionOf("emergency/break-glass/password"));
    expect(denied.code).toBe(3);
    expect(denied.stderr).toMatch(errorLine("policy_denied"));

    const missing = await cli(provisionOf("services/chittyid/no_such_field"));
    expect(missing.code).toBe(4);
    expect(missing.stderr).toMatch(errorLine("credential_not_found"));

    const usage = await cli(["provision", PATH, "--purpose", "e2e"]);
    expect(usage.code).toBe(1);
    expect(usage.stderr).toContain("--service");

    const noUrl = await cli(args, { env: { CHITTYCONNECT_URL: "" } });
    expect(noUrl.code).toBe(2);
    expect(noUrl.stderr).toMatch(/^chittyconnect: no edge URL/);
  });

  it("an edge that does not answer and a frozen Connect: exit 5 with a clear message", async () => {
    const args = ["provision", PATH, "--service", "chittyid", "--purpose", "e2e down", "--retries", "0"];
    const closed = await cli(args, { env: { CHITTYCONNECT_URL: `http://127.0.0.1:${await freePort()}` } });
    expect(closed.code).toBe(5);
    expect(closed.stderr).toMatch(
      /^chittyconnect: cannot reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)\n$/,
    );

    const pid = connectPid();
    process.kill(pid, "SIGSTOP");
    try {
      // Another item, so no title the origin cached a moment ago spares it the call to Connect.
      const frozen = await cli(["provision", "services/chittyrouter+beta/api_key", ...args.slice(2)]);
      expect(frozen.code).toBe(5);
      expect(frozen.stderr).toMatch(errorLine("connect_timeout|connect_unavailable|connect_error"));
    } finally {
      process.kill(pid, "SIGCONT");
    }
  }, 60_000);

  it("run: values only in the child's environment, masked in its output, its exit code", async () => {
    const value = await currentValue();
    const dir = tempDir();
    writeFileSync(join(dir, "refs.env"), `X=${REF}\nPLAIN=kept as written\n`);
    const script =
      "console.log(process.env.X.length, process.env.PLAIN, process.env.Y === process.env.X); " +
      "process.stdout.write(process.env.X.slice(0, 5)); setTimeout(() => { process.stdout.write(process.env.X.slice(5) + '\\n'); " +
      "console.error('err:' + process.env.X); console.log(typeof process.env.CHITTYCONNECT_TOKEN); process.exit(7) }, 50)";
    const ran = await cli(["run", "--env-file", "refs.env", "--", "node", "-e", script], {
      cwd: dir,
      home: dir,
      env: { Y: `chittyconnect://${PATH}`, CHITTYCONNECT_SERVICE: "chittyid" },
    });
    expect(ran.code).toBe(7);
    expect(ran.stdout).toBe(
      `${value.length} kept as written true\n<concealed by chittyconnect>\nundefined\n`,
    );
    expect(ran.stderr).toBe("err:<concealed by chittyconnect>\n");
    // Nothing under HOME, TMPDIR and the working directory holds the value.
    expect(filesContaining(dir, value)).toEqual([]);
  });

  it("run: a child killed by a signal exits 128+n; a command that cannot start exits 127", async () => {
    const killed = await cli(["run", "--", "node", "-e", "process.kill(process.pid, 'SIGTERM')"]);
    expect(killed.code).toBe(143);
    const missing = await cli(["run", "--", "no-such-command-chitty"]);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toContain("cannot run no-such-command-chitty (ENOENT)");
  });

  it("run: a malformed reference is a usage error naming the mistake, and nothing runs", async () => {
    const ran = await cli(["run", "--", "node", "-e", "console.log('ran')"], {
      env: { X: "chittyconnect://services/chittyid", CHITTYCONNECT_SERVICE: "chittyid" },
    });
    expect(ran.code).toBe(1);
    expect(ran.stdout).toBe("");
    expect(ran.stderr).toMatch(/<vault>\/<item>\/<field>/);
  });

  it("inject: a 0600 file, stdout with -o -, and no overwrite of a looser file without --force", async () => {
    const value = await currentValue();
    const dir = tempDir();
    writeFileSync(join(dir, "app.tmpl"), `token: {{ ${REF} }}\nagain: {{${REF}}}\n`);
    const written = await cli(["inject", "-i", "app.tmpl", "-o", "app.yaml"], { cwd: dir });
    expect(written).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(readFileSync(join(dir, "app.yaml"), "utf8")).toBe(`token: ${value}\nagain: ${value}\n`);
    expect(statSync(join(dir, "app.yaml")).mode & 0o777).toBe(0o600);

    const toStdout = await cli(["inject", "-i", "app.tmpl", "-o", "-"], { cwd: dir });
    expect(toStdout.stdout).toBe(`token: ${value}\nagain: ${value}\n`);

    writeFileSync(join(dir, "loose.yaml"), "old\n", { mode: 0o644 });
    chmodSync(join(dir, "loose.yaml"), 0o644);
    const refused = await cli(["inject", "-i", "app.tmpl", "-o", "loose.yaml"], { cwd: dir });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("--force");
    expect(readFileSync(join(dir, "loose.yaml"), "utf8")).toBe("old\n");
    const forced = await cli(["inject", "-i", "app.tmpl", "-o", "loose.yaml", "--force"], { cwd: dir });
    expect(forced.code).toBe(0);
    expect(statSync(join(dir, "loose.yaml")).mode & 0o777).toBe(0o600);
  });

  it("rotate prints the new value, which is then the vault's", async () => {
    const before = await currentValue();
    const rotated = await cli(["rotate", PATH, "--service", "chittyid", "--purpose", "e2e rotate", "--json"]);
    expect(rotated.code).toBe(0);
    const body = JSON.parse(rotated.stdout) as { value: string; version: number; sealed: boolean };
    expect(body.sealed).toBe(true);
    expect(body.value).not.toBe(before);
    expect(await currentValue()).toBe(body.value);

    const readOnly = await mint(["usage:read"]);
    const refused = await cli(["rotate", PATH, "--service", "chittyid", "--purpose", "e2e"], {
      env: { CHITTYCONNECT_TOKEN: readOnly },
    });
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(errorLine("insufficient_scope"));
  });

  it("audit: a table, --json, and --follow prints new entries", async () => {
    const table = await cli(["audit", "--limit", "3"]);
    expect(table.code).toBe(0);
    expect(table.stdout.split("\n")[0]).toMatch(/^SEQ\s+AT\s+ACTION\s+OUTCOME\s+SERVICE\s+PATH\s+PURPOSE$/);
    expect(table.stdout).toContain(PATH);
    const json = await cli(["audit", "--limit", "2", "--json"]);
    expect((JSON.parse(json.stdout) as { entries: unknown[] }).entries).toHaveLength(2);

    const home = tempDir();
    const follow = spawn(BIN, ["audit", "--follow", "--json", "--limit", "1", "--interval", "1"], {
      env: {
        PATH: process.env.PATH,
        HOME: home,
        CHITTYCONNECT_URL: stack.edgeUrl,
        CHITTYCONNECT_TOKEN: token,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    follow.stdout.on("data", (c: Buffer) => (out += c));
    try {
      while (out.split("\n").length < 2) await new Promise((r) => setTimeout(r, 100));
      await cli(["provision", PATH, "--service", "chittyid", "--purpose", "e2e follow"]);
      const deadline = Date.now() + 15_000;
      while (!out.includes("e2e follow") && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      expect(out).toContain('"purpose":"e2e follow"');
    } finally {
      follow.kill("SIGINT");
    }
  });

  it("tokens mint, list and revoke with the admin token; a revoked token is refused", async () => {
    const env = { CHITTYCONNECT_ADMIN_TOKEN: stack.adminToken };
    const minted = await cli(
      [
        "tokens",
        "mint",
        "--owner",
        OWNER,
        "--scopes",
        "credentials:provision",
        "--services",
        "chittyid",
        "--label",
        "cli e2e",
        "--json",
      ],
      { env },
    );
    expect(minted.stderr).toBe("");
    expect(minted.code).toBe(0);
    const { id, token: fresh } = JSON.parse(minted.stdout) as { id: string; token: string };
    stack.track(fresh);

    const listed = await cli(["tokens", "list", "--owner", OWNER, "--limit", "100"], { env });
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`${id}\\s+${OWNER}\\s+credentials:provision\\s+chittyid`));
    expect(listed.stdout).not.toContain(fresh);

    const args = ["provision", PATH, "--service", "chittyid", "--purpose", "e2e fresh"];
    expect((await cli(args, { env: { CHITTYCONNECT_TOKEN: fresh } })).code).toBe(0);
    expect(await cli(["tokens", "revoke", id], { env })).toMatchObject({
      code: 0,
      stderr: `revoked ${id}\n`,
    });
    const revoked = await cli(args, { env: { CHITTYCONNECT_TOKEN: fresh } });
    expect(revoked.code).toBe(3);
    expect(revoked.stderr).toMatch(errorLine("unauthorized"));

    const notAdmin = await cli(["tokens", "list"], { env: { CHITTYCONNECT_ADMIN_TOKEN: token } });
    expect(notAdmin.code).toBe(3);
    const unknown = await cli(["tokens", "revoke", "tok_00000000-0000-4000-8000-000000000000"], { env });
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toMatch(errorLine("token_not_found"));
    const noAdmin = await cli(["tokens", "list"]);
    expect(noAdmin.code).toBe(2);
  });

  it("status: every hop, exit 0 while healthy", async () => {
    const status = await cli(["status"]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^origin\s+ok\s+\d+ ms$/m);
    expect(status.stdout.trimEnd().endsWith("ok")).toBe(true);
    const json = await cli(["status", "--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ status: "ok" });
  });

  it("login stores URL and token 0600 (token from stdin), a looser file is refused, logout removes it", async () => {
    const home = tempDir();
    const xdg = join(home, "xdg");
    mkdirSync(xdg);
    const env = { XDG_CONFIG_HOME: xdg, CHITTYCONNECT_TOKEN: "", CHITTYCONNECT_URL: "" };
    const login = await cli(["login", "--url", stack.edgeUrl], { home, env, input: `${token}\n` });
    expect(login).toMatchObject({ code: 0, stdout: "" });
    const file = join(xdg, "chittyconnect", "config.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ url: stack.edgeUrl, token });

    const args = ["provision", PATH, "--service", "chittyid", "--purpose", "e2e login"];
    expect((await cli(args, { home, env })).stdout).toBe(await currentValue());
    // The environment wins over the file.
    const overridden = await cli(args, { home, env: { ...env, CHITTYCONNECT_TOKEN: "cc_not_a_real_token" } });
    expect(overridden.code).toBe(3);

    chmodSync(file, 0o644);
    const loose = await cli(args, { home, env });
    expect(loose.code).toBe(2);
    expect(loose.stderr).toBe(
      `chittyconnect: ${file} is accessible to others (mode 644); it holds a token: run chmod 600 ${file}\n`,
    );

    const badLogin = await cli(["login", "--url", stack.edgeUrl], {
      home,
      env,
      input: "cc_not_a_real_token\n",
    });
    expect(badLogin.code).toBe(3);

    expect(await cli(["logout"], { home, env })).toMatchObject({ code: 0, stderr: `removed ${file}\n` });
    expect((await cli(args, { home, env })).code).toBe(2);
  });
});
