import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseOriginConfig } from "../../src/config.ts";

const MAIN = fileURLToPath(new URL("../../src/main.ts", import.meta.url));

const BAD_ENV = {
  OP_CONNECT_HOST: "http://127.0.0.1:9",
  EDGE_SIGNING_KEY: "too-short",
  AUDIT_HMAC_KEY: "audit-hmac-key-for-tests-0123456789abcdef",
  AUDIT_CHAIN_KEY: "audit-chain-key-for-tests-0123456789abcdef",
};

function run(env: Record<string, string>): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN], {
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    let stdout = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stderr, stdout }));
  });
}

describe("origin configuration", () => {
  it("names every missing or malformed variable in one message", () => {
    const result = parseOriginConfig(BAD_ENV);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.message).toContain("OP_CONNECT_TOKEN");
    expect(result.message).toContain("EDGE_SIGNING_KEY: EDGE_SIGNING_KEY must be at least 32 bytes");
    expect(result.message).not.toContain("too-short");
  });

  it("makes main.ts exit 1 with that message and no stack trace", async () => {
    const { code, stderr, stdout } = await run(BAD_ENV);
    expect(code).toBe(1);
    expect(stderr).toContain("Invalid origin configuration");
    expect(stderr).toContain("OP_CONNECT_TOKEN");
    expect(stderr).toContain("EDGE_SIGNING_KEY");
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(stdout).toBe("");
  });
});
