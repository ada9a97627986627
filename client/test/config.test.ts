import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError, configPath, readConfig, resolveConnection, writeConfig } from "../src/cli/config.ts";
import { EnvFileError, parseEnvFile } from "../src/cli/env-file.ts";
import { writeRendered } from "../src/cli/inject.ts";

const dirs: string[] = [];
const temp = () => {
  const dir = mkdtempSync(join(tmpdir(), "chitty-client-"));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("config file", () => {
  it("lives at CHITTYCONNECT_CONFIG, else under XDG_CONFIG_HOME, else ~/.config", () => {
    expect(configPath({ CHITTYCONNECT_CONFIG: "/x/c.json", XDG_CONFIG_HOME: "/y" })).toBe("/x/c.json");
    expect(configPath({ XDG_CONFIG_HOME: "/y" })).toBe("/y/chittyconnect/config.json");
    expect(configPath({ HOME: "/home/u" })).toBe("/home/u/.config/chittyconnect/config.json");
  });

  it("is written 0600 and read back; a missing file is empty", () => {
    const file = join(temp(), "sub", "config.json");
    expect(readConfig(file)).toEqual({});
    writeConfig(file, { url: "http://127.0.0.1:8787", token: "cc_x" });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readConfig(file)).toEqual({ url: "http://127.0.0.1:8787", token: "cc_x" });
  });

  it("refuses a file others may read, naming the fix and never the token", () => {
    const file = join(temp(), "config.json");
    writeFileSync(file, JSON.stringify({ token: "cc_secret_value" }));
    chmodSync(file, 0o644);
    expect(() => readConfig(file)).toThrow(ConfigError);
    expect(() => readConfig(file)).toThrow(/mode 644.*chmod 600/);
    try {
      readConfig(file);
    } catch (error) {
      expect((error as Error).message).not.toContain("cc_secret_value");
    }
  });

  it("precedence: flags, then the environment, then the file (read only when needed)", () => {
    let reads = 0;
    const stored = () => {
      reads++;
      return { url: "file-url", token: "file-token" };
    };
    expect(
      resolveConnection({ url: "flag-url", token: "flag-token" }, { CHITTYCONNECT_URL: "env-url" }, stored),
    ).toEqual({
      url: "flag-url",
      token: "flag-token",
    });
    expect(reads).toBe(0);
    expect(resolveConnection({}, { CHITTYCONNECT_URL: "env-url" }, stored)).toEqual({
      url: "env-url",
      token: "file-token",
    });
    expect(resolveConnection({}, {}, stored)).toEqual({ url: "file-url", token: "file-token" });
  });
});

describe("env files", () => {
  it("reads NAME=value lines, quotes, export and comments", () => {
    const parsed = parseEnvFile(
      [
        "# a comment",
        "",
        "A=chittyconnect://services/chittyid/service_token",
        "export B = plain value # trailing comment",
        `C="quoted # not a comment\\n"`,
        "D='single $literal'",
        "E=",
      ].join("\n"),
    );
    expect(Object.fromEntries(parsed)).toEqual({
      A: "chittyconnect://services/chittyid/service_token",
      B: "plain value",
      C: "quoted # not a comment\n",
      D: "single $literal",
      E: "",
    });
  });

  it("names the line of a mistake", () => {
    expect(() => parseEnvFile("A=1\nnot a line")).toThrow(EnvFileError);
    expect(() => parseEnvFile("A=1\nnot a line")).toThrow(/line 2/);
    expect(() => parseEnvFile('A="open')).toThrow(/unterminated/);
  });
});

describe("inject output", () => {
  it("writes 0600, refuses to replace a looser file unless forced", () => {
    const dir = temp();
    const file = join(dir, "out.env");
    writeRendered(file, "A=1\n", false);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    chmodSync(file, 0o644);
    expect(() => writeRendered(file, "A=2\n", false)).toThrow(/mode 644/);
    expect(readFileSync(file, "utf8")).toBe("A=1\n");
    writeRendered(file, "A=2\n", true);
    expect(readFileSync(file, "utf8")).toBe("A=2\n");
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });
});
