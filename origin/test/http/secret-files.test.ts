import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parseOriginConfig, resolveSecretFiles, SECRET_VARIABLES } from "../../src/config.ts";
import { peerFilter, type RunningOrigin, startOrigin } from "../../src/server.ts";
import { captureLogger, InMemoryCredentials, testConfig } from "./harness.ts";

const BASE = {
  OP_CONNECT_HOST: "http://127.0.0.1:9",
  SIGNATURE_WINDOW_SECONDS: "60",
};
const SIGNING = "edge-signing-key-from-a-file-0123456789abcdef";
const AUDIT = "audit-hmac-key-from-a-file-0123456789abcdef";

let dir: string;
const file = (name: string, content: string, mode = 0o600) => {
  const path = join(dir, name);
  writeFileSync(path, content, { mode });
  chmodSync(path, mode);
  return path;
};
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "chitty-secret-files-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("secrets from *_FILE", () => {
  it("reads every secret variable from its file, dropping the trailing newline echo adds", () => {
    const parsed = parseOriginConfig({
      ...BASE,
      OP_CONNECT_TOKEN_FILE: file("op_connect_token", "connect-token-value\n"),
      EDGE_SIGNING_KEY_FILE: file("edge_signing_key", `${SIGNING}\r\n`),
      EDGE_SIGNING_KEY_PREVIOUS_FILE: file("edge_signing_key_previous", ""),
      AUDIT_HMAC_KEY_FILE: file("audit_hmac_key", AUDIT),
      AUDIT_CHAIN_KEY_FILE: file("audit_chain_key", `${AUDIT}-chain`),
    });
    expect(parsed.ok, parsed.ok ? "" : parsed.message).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.config.OP_CONNECT_TOKEN).toBe("connect-token-value");
    expect(parsed.config.EDGE_SIGNING_KEY).toBe(SIGNING);
    // An empty file is an unset optional secret, as an empty variable is.
    expect(parsed.config.EDGE_SIGNING_KEY_PREVIOUS).toBeUndefined();
    expect(parsed.config.AUDIT_HMAC_KEY).toBe(AUDIT);
    expect(parsed.config.AUDIT_CHAIN_KEY).toBe(`${AUDIT}-chain`);
  });

  it("offers the file form for every listed secret and keeps the plain form", () => {
    for (const name of SECRET_VARIABLES) {
      const { env, problems } = resolveSecretFiles({ [`${name}_FILE`]: "/x" }, () => "from-file");
      expect(problems).toEqual([]);
      expect(env[name]).toBe("from-file");
      expect(env).not.toHaveProperty(`${name}_FILE`);
      expect(resolveSecretFiles({ [name]: "plain" }, () => "unused").env[name]).toBe("plain");
    }
  });

  it("refuses both forms at once, and names an unreadable file without any value", () => {
    const parsed = parseOriginConfig({
      ...BASE,
      OP_CONNECT_TOKEN: "inline-connect-token",
      OP_CONNECT_TOKEN_FILE: file("token-again", "file-connect-token"),
      EDGE_SIGNING_KEY_FILE: join(dir, "absent"),
      AUDIT_HMAC_KEY_FILE: file("audit-short", "short-audit-key"),
    });
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.message).toContain(
      "OP_CONNECT_TOKEN: set OP_CONNECT_TOKEN or OP_CONNECT_TOKEN_FILE, not both",
    );
    expect(parsed.message).toContain(`EDGE_SIGNING_KEY_FILE: cannot read ${join(dir, "absent")}: ENOENT`);
    expect(parsed.message).not.toMatch(/EDGE_SIGNING_KEY: EDGE_SIGNING_KEY is required/);
    expect(parsed.message).toContain("AUDIT_HMAC_KEY: AUDIT_HMAC_KEY must be at least 32 bytes");
    for (const value of ["inline-connect-token", "file-connect-token", "short-audit-key"]) {
      expect(parsed.message).not.toContain(value);
    }
  });

  it("refuses a file larger than 64 KiB", () => {
    const { problems } = resolveSecretFiles({ AUDIT_HMAC_KEY_FILE: file("huge", "x".repeat(70_000)) });
    expect(problems).toEqual([
      expect.stringMatching(/^AUDIT_HMAC_KEY_FILE: cannot read .*huge: larger than/),
    ]);
  });
});

describe("ALLOWED_PEERS", () => {
  it("accepts IPs and CIDRs and names anything else", () => {
    expect(testConfig({ ALLOWED_PEERS: "172.30.54.0/24, 127.0.0.1,::1" }).ALLOWED_PEERS).toEqual([
      "172.30.54.0/24",
      "127.0.0.1",
      "::1",
    ]);
    expect(testConfig({ ALLOWED_PEERS: "" }).ALLOWED_PEERS).toBeUndefined();
    for (const bad of ["nginx", "10.0.0.0/33", "10.0.0.1/8/1", "300.1.1.1"]) {
      const parsed = parseOriginConfig({ ...BASE, ALLOWED_PEERS: bad });
      expect(parsed.ok ? "" : parsed.message).toContain(
        `ALLOWED_PEERS must list IPs or CIDRs, got ${JSON.stringify(bad)}`,
      );
    }
  });

  it("admits exactly the addresses inside a CIDR (IPv4 and IPv4-mapped IPv6)", () => {
    const octet = fc.integer({ min: 0, max: 255 });
    fc.assert(
      fc.property(
        fc.tuple(octet, octet, octet, octet),
        fc.integer({ min: 0, max: 32 }),
        ([a, b, c, d], prefix) => {
          const admits = peerFilter([`172.30.54.0/${prefix}`]);
          const ip = `${a}.${b}.${c}.${d}`;
          const toInt = (x: number[]) => x.reduce((acc, part) => acc * 256 + part, 0);
          const inside =
            Math.floor(toInt([a, b, c, d]) / 2 ** (32 - prefix)) ===
            Math.floor(toInt([172, 30, 54, 0]) / 2 ** (32 - prefix));
          expect(admits?.(ip)).toBe(inside);
          expect(admits?.(`::ffff:${ip}`)).toBe(inside);
        },
      ),
    );
    expect(peerFilter(undefined)).toBeUndefined();
    expect(peerFilter(["127.0.0.1"])?.(undefined)).toBe(false);
  });

  let origin: RunningOrigin | undefined;
  afterEach(async () => {
    await origin?.close();
    origin = undefined;
  });

  const get = (url: string, localAddress: string) =>
    new Promise<number>((resolve, reject) => {
      const req = request(url, { localAddress }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.end();
    });

  it("resets connections from any other peer before answering", async () => {
    origin = await startOrigin({
      config: testConfig({ ALLOWED_PEERS: "127.0.0.2" }),
      credentials: new InMemoryCredentials(),
      logger: captureLogger().logger,
    });
    expect(await get(`${origin.url}/healthz`, "127.0.0.2")).toBe(200);
    await expect(get(`${origin.url}/healthz`, "127.0.0.1")).rejects.toThrow(/ECONNRESET|socket hang up/);
  });
});
