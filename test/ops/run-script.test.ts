import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../support/stack.ts";

const exec = promisify(execFile);
let dir: string;

/** `./run …` as typed, with its exit code; never throws on a non-zero exit. */
async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const env = { ...process.env, AUDIT_CHAIN_KEY: "audit-chain-key-for-the-run-script-test-0123" };
    const { stdout, stderr } = await exec("./run", args, { cwd: repoRoot, env });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

beforeAll(() => {
  // ./run installs dependencies when package-lock.json is newer than node_modules; inside a test
  // run that would replace the modules under the running suites, so say so instead.
  const installed = statSync(join(repoRoot, "node_modules/.package-lock.json")).mtimeMs;
  if (statSync(join(repoRoot, "package-lock.json")).mtimeMs > installed) {
    throw new Error("package-lock.json is newer than node_modules: run `./run lint` once, then the tests");
  }
  dir = mkdtempSync(join(tmpdir(), "chitty-run-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("./run passes arguments the same with or without a `--`", () => {
  it("audit:verify <file> and audit:verify -- <file>", async () => {
    // The log is a base path with numbered segments beside it.
    const good = join(dir, "empty.log");
    writeFileSync(`${good}.000001`, "");
    const broken = join(dir, "broken.log");
    writeFileSync(`${broken}.000001`, '{"seq":1}\n');
    for (const args of [[good], ["--", good]]) {
      const result = await run("audit:verify", ...args);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/^OK 0 entries/);
    }
    for (const args of [[broken], ["--", broken]]) {
      const result = await run("audit:verify", ...args);
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(/^BROKEN in .*broken\.log\.000001 at line 1: /);
    }
  });

  it("check:deploy --env <file> and check:deploy -- --env <file>", async () => {
    const missing = join(dir, "no-such.env");
    const plain = await run("check:deploy", "--env", missing);
    const dashed = await run("check:deploy", "--", "--env", missing);
    expect(plain.code).toBe(1);
    expect(plain.stdout + plain.stderr).toContain(missing);
    expect(dashed).toEqual(plain);
  });
});

describe("the Node version floor", () => {
  it("is the same in package.json's engines and scripts/node-env.sh, and this Node meets it", () => {
    const engines = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")).engines.node as string;
    const floor = /^NODE_FLOOR="(\d+\.\d+)"$/m.exec(
      readFileSync(join(repoRoot, "scripts/node-env.sh"), "utf8"),
    );
    expect(floor?.[1]).toBeDefined();
    expect(engines).toBe(`>=${floor?.[1]}.0`);
    // 22.18 is the first 22.x that runs .ts files without a flag, which every script here relies on.
    const [major, minor] = process.versions.node.split(".").map(Number) as [number, number];
    expect(major > 22 || (major === 22 && minor >= 18)).toBe(true);
  });
});
