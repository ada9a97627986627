import { execFile } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DotenvError, parseDotenv, quoteDotenvValue } from "../../scripts/deploy-checks/dotenv.ts";
import { checkWranglerText } from "../../scripts/deploy-checks/edge.ts";
import { checkEnv } from "../../scripts/deploy-checks/env.ts";
import { parseJsonc, stripJsonc } from "../../scripts/deploy-checks/jsonc.ts";
import { formatReport } from "../../scripts/deploy-checks/report.ts";
import { runDeployChecks } from "../../scripts/deploy-checks/run.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const TUNNEL_TOKEN = Buffer.from(
  JSON.stringify({ a: "account-tag", t: "tunnel-uuid", s: "c2VjcmV0" }),
).toString("base64");
const VALID_ENV: Record<string, string> = {
  CLOUDFLARE_TUNNEL_TOKEN: TUNNEL_TOKEN,
  OP_CREDENTIALS_FILE: "./1password-credentials.json",
  OP_CONNECT_TOKEN: "connect-token-from-op-connect-token-create",
  EDGE_SIGNING_KEY: "edge-signing-key-with-at-least-32-bytes-0123",
  AUDIT_HMAC_KEY: "audit-hmac-key-with-at-least-32-bytes-456789",
  AUDIT_CHAIN_KEY: "audit-chain-key-with-at-least-32-bytes-4567",
  ACCESS_JWKS_URL: "https://team.cloudflareaccess.com/cdn-cgi/access/certs",
  ACCESS_AUDIENCE: "aud-tag",
  POLICY_PATH: "./policy.yaml",
};
const toDotenv = (env: Record<string, string>) =>
  Object.entries(env)
    .map(([key, value]) => `${key}=${quoteDotenvValue(value)}`)
    .join("\n");

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "chitty-deploy-check-"));
  writeFileSync(
    join(dir, "1password-credentials.json"),
    '{"verifier":{},"encCredentials":{},"version":"2"}',
    {
      mode: 0o600,
    },
  );
  copyFileSync(join(ROOT, "origin/fixtures/policy.yaml"), join(dir, "policy.yaml"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("checkEnv", () => {
  it("accepts a complete .env", () => {
    const result = checkEnv(VALID_ENV, { baseDir: dir });
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual([]);
  });

  const broken: [string, Record<string, string>, RegExp][] = [
    ["missing signing key", { EDGE_SIGNING_KEY: "" }, /^EDGE_SIGNING_KEY: EDGE_SIGNING_KEY is required/],
    ["short audit key", { AUDIT_HMAC_KEY: "short" }, /^AUDIT_HMAC_KEY: .*at least 32 bytes/],
    ["no Connect token", { OP_CONNECT_TOKEN: "" }, /^OP_CONNECT_TOKEN:/],
    ["no tunnel token", { CLOUDFLARE_TUNNEL_TOKEN: "" }, /^CLOUDFLARE_TUNNEL_TOKEN: is required/],
    [
      "garbage tunnel token",
      { CLOUDFLARE_TUNNEL_TOKEN: "not-a-token" },
      /^CLOUDFLARE_TUNNEL_TOKEN: malformed/,
    ],
    ["missing credentials file", { OP_CREDENTIALS_FILE: "./nope.json" }, /^OP_CREDENTIALS_FILE: cannot read/],
    [
      "credentials not JSON",
      { OP_CREDENTIALS_FILE: "./policy.yaml" },
      /^OP_CREDENTIALS_FILE: .* not the JSON/,
    ],
    ["window out of range", { SIGNATURE_WINDOW_SECONDS: "3600" }, /^SIGNATURE_WINDOW_SECONDS:/],
    ["lease not a number", { LEASE_TTL_SECONDS: "soon" }, /^LEASE_TTL_SECONDS:/],
    ["JWKS without audience", { ACCESS_AUDIENCE: "" }, /^ACCESS_AUDIENCE: .*together/],
    ["JWKS not a URL", { ACCESS_JWKS_URL: "team.cloudflareaccess.com" }, /^ACCESS_JWKS_URL:/],
    ["bad log level", { LOG_LEVEL: "loud" }, /^LOG_LEVEL:/],
  ];
  it.each(broken)("names the variable: %s", (_, change, expected) => {
    const { errors } = checkEnv({ ...VALID_ENV, ...change }, { baseDir: dir });
    expect(
      errors.some((error) => expected.test(error)),
      errors.join("\n"),
    ).toBe(true);
  });

  it("warns about typos, reused keys, values compose overrides and a missing Access setup", () => {
    const { errors, warnings } = checkEnv(
      {
        ...VALID_ENV,
        EDGE_SIGNNG_KEY: "typo",
        EDGE_SIGNING_KEY_PREVIOUS: VALID_ENV.EDGE_SIGNING_KEY ?? "",
        PORT: "9999",
        ACCESS_JWKS_URL: "",
        ACCESS_AUDIENCE: "",
      },
      { baseDir: dir },
    );
    expect(errors).toEqual([]);
    expect(warnings.join("\n")).toMatch(/EDGE_SIGNNG_KEY: not used/);
    expect(warnings.join("\n")).toMatch(/EDGE_SIGNING_KEY_PREVIOUS: equals/);
    expect(warnings.join("\n")).toMatch(/PORT: set by docker-compose.yml/);
    expect(warnings.join("\n")).toMatch(/ACCESS_JWKS_URL: not set/);
  });
});

describe("parseDotenv", () => {
  it("reads comments, export, quotes and inline comments as compose does", () => {
    const env = parseDotenv(
      [
        "# comment",
        "",
        "export A=1",
        "B = two words # trailing",
        "C='single $NOT #interpolated'",
        'D="line\\nbreak \\"quoted\\""',
        "E=",
        "F=url#fragment",
      ].join("\n"),
    );
    expect(env).toEqual({
      A: "1",
      B: "two words",
      C: "single $NOT #interpolated",
      D: 'line\nbreak "quoted"',
      E: "",
      F: "url#fragment",
    });
  });

  it.each([
    ["NOEQUALS", /line 1: expected KEY=VALUE/],
    ["1BAD=x", /not a valid variable name/],
    ['A="unterminated', /unterminated/],
    ['A="x" y', /after the closing quote/],
    ['A="\\q"', /unknown escape/],
  ])("refuses %s", (text, expected) => {
    expect(() => parseDotenv(text)).toThrow(expected);
  });

  it("refuses oversize files and too many variables", () => {
    expect(() => parseDotenv(`A=${"x".repeat(70_000)}`)).toThrow(DotenvError);
    expect(() => parseDotenv(Array.from({ length: 501 }, (_, i) => `K${i}=v`).join("\n"))).toThrow(
      /more than 500/,
    );
  });

  it("round-trips any values written with quoteDotenvValue", () => {
    const key = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,20}$/);
    fc.assert(
      fc.property(fc.dictionary(key, fc.string({ maxLength: 60 }), { maxKeys: 20 }), (env) => {
        expect(parseDotenv(toDotenv(env))).toEqual({ ...env });
      }),
    );
  });

  it("never throws anything but DotenvError on arbitrary text", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        try {
          parseDotenv(text);
        } catch (error) {
          expect(error).toBeInstanceOf(DotenvError);
        }
      }),
    );
  });
});

describe("JSONC", () => {
  it("keeps comment-like text inside strings", () => {
    expect(
      parseJsonc('{ "url": "https://x.dev/a//b", /* c */ "s": "/* not */", // end\n "n": [1, 2,], }'),
    ).toEqual({
      url: "https://x.dev/a//b",
      s: "/* not */",
      n: [1, 2],
    });
  });

  it("parses any JSON value unchanged, with comments and trailing commas added between tokens", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = JSON.stringify(value, null, 1);
        expect(parseJsonc(text)).toEqual(JSON.parse(text));
        const commented = `// header\n${text.replace(/\n/g, " /* c */\n")}\n// footer`;
        expect(parseJsonc(commented)).toEqual(JSON.parse(text));
        const trailing = text.replace(/(\n\s*)([}\]])/g, ",$1$2");
        expect(parseJsonc(trailing)).toEqual(JSON.parse(text));
      }),
    );
  });

  it("refuses unterminated comments and strings", () => {
    expect(() => stripJsonc('{"a": 1 /* open')).toThrow(/unterminated/);
    expect(() => stripJsonc('{"a": "open')).toThrow(/unterminated/);
  });
});

describe("checkWranglerText", () => {
  const envBlock = (name: string, overrides: string) => `"${name}": {
      "d1_databases": [{ "binding": "DB", "database_name": "db-${name}", "database_id": "0f6c1c2e-${name}" }],
      "vars": { "ORIGIN_URL": "https://origin-${name}.chitty.cc" },
      "secrets": { "required": ["ADMIN_TOKEN", "EDGE_SIGNING_KEY"] }${overrides}
    }`;
  const wrangler = (staging = "", production = "") =>
    `// wrangler\n{ "name": "edge", "env": { ${envBlock("staging", staging)}, ${envBlock("production", production)} } }`;

  it("accepts deployable staging and production envs", () => {
    expect(checkWranglerText(wrangler())).toEqual({ name: "edge", errors: [], warnings: [] });
  });

  it("checks the project's edge/wrangler.jsonc without errors", () => {
    expect(checkWranglerText(readFileSync(join(ROOT, "edge/wrangler.jsonc"), "utf8")).errors).toEqual([]);
  });

  it.each([
    [
      "http origin",
      wrangler(', "vars": { "ORIGIN_URL": "http://origin.chitty.cc" }'),
      /staging: vars.ORIGIN_URL must be an https URL/,
    ],
    ["no DB", wrangler("", ', "d1_databases": []'), /production: no d1_databases entry with binding DB/],
    [
      "missing secret",
      wrangler("", ', "secrets": { "required": ["ADMIN_TOKEN"] }'),
      /production: secrets.required must list EDGE_SIGNING_KEY/,
    ],
    ["missing env", '{ "env": { "staging": {} } }', /env.production: missing/],
    ["not JSONC", "{ nope", /does not parse/],
  ])("rejects %s", (_, text, expected) => {
    const { errors } = checkWranglerText(text);
    expect(
      errors.some((error) => expected.test(error)),
      errors.join("\n"),
    ).toBe(true);
  });

  it("warns about placeholder database ids and hostnames", () => {
    const { errors, warnings } = checkWranglerText(
      wrangler(
        ', "d1_databases": [{ "binding": "DB", "database_id": "REPLACE_ME" }], "vars": { "ORIGIN_URL": "https://origin.example.com" }',
      ),
    );
    expect(errors).toEqual([]);
    expect(warnings.join("\n")).toMatch(/staging: D1 database_id "REPLACE_ME" is a placeholder/);
    expect(warnings.join("\n")).toMatch(
      /staging: vars.ORIGIN_URL https:\/\/origin.example.com\/ is a placeholder/,
    );
  });
});

describe("check-deploy", () => {
  it("reports every section valid for a complete deployment directory", () => {
    writeFileSync(join(dir, "good.env"), toDotenv(VALID_ENV));
    const sections = runDeployChecks({ root: ROOT, envFile: join(dir, "good.env") });
    expect(sections.map((section) => section.name)).toEqual([
      "env",
      "policy",
      "compose",
      "dockerfile",
      "nginx",
      "edge",
    ]);
    for (const section of sections) expect(section.errors, section.name).toEqual([]);
    // The dev policy grants every owner: fine for the stack, flagged for production.
    expect(sections[1]?.warnings.join("\n")).toMatch(/grants every owner/);
  });

  it("flags a policy that does not load", () => {
    writeFileSync(join(dir, "bad-policy.yaml"), "version: 2\nrules: []\n");
    writeFileSync(join(dir, "bad-policy.env"), toDotenv({ ...VALID_ENV, POLICY_PATH: "./bad-policy.yaml" }));
    const [, policy] = runDeployChecks({ root: ROOT, envFile: join(dir, "bad-policy.env") });
    expect(policy?.errors.join("\n")).toMatch(/Invalid policy file .*bad-policy.yaml/);
  });

  it("formats a report with per-section verdicts and totals", () => {
    const report = formatReport([
      { name: "env", errors: ["EDGE_SIGNING_KEY: EDGE_SIGNING_KEY is required"], warnings: [] },
      { name: "edge", errors: [], warnings: ["w"] },
    ]);
    expect(report).toBe(
      "[env] invalid\n  error:   EDGE_SIGNING_KEY: EDGE_SIGNING_KEY is required\n[edge] valid (1 warning(s))\n  warning: w\nTotals: 1 valid, 1 invalid, 1 warning(s) in 2 section(s)\n",
    );
  });

  const run = (envFile: string) =>
    promisify(execFile)(process.execPath, [join(ROOT, "scripts/check-deploy.ts"), "--env", envFile]).then(
      ({ stdout }) => ({ code: 0, stdout }),
      (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
    );

  it("exits 0 and prints totals when everything is valid", async () => {
    writeFileSync(join(dir, "cli.env"), toDotenv(VALID_ENV));
    const { code, stdout } = await run(join(dir, "cli.env"));
    expect(stdout).toMatch(/^\[env\] valid$/m);
    expect(stdout).toMatch(/^Totals: 6 valid, 0 invalid, \d+ warning\(s\) in 6 section\(s\)$/m);
    expect(code).toBe(0);
  });

  it("exits 1 naming each missing or malformed variable", async () => {
    const { EDGE_SIGNING_KEY: _, ...withoutKey } = VALID_ENV;
    writeFileSync(join(dir, "broken.env"), toDotenv({ ...withoutKey, AUDIT_HMAC_KEY: "short" }));
    const { code, stdout } = await run(join(dir, "broken.env"));
    expect(code).toBe(1);
    expect(stdout).toMatch(/^\[env\] invalid/m);
    expect(stdout).toMatch(/error: {3}EDGE_SIGNING_KEY: EDGE_SIGNING_KEY is required/);
    expect(stdout).toMatch(/error: {3}AUDIT_HMAC_KEY: AUDIT_HMAC_KEY must be at least 32 bytes/);
  });

  it("exits 1 when the .env file is missing", async () => {
    const { code, stdout } = await run(join(dir, "absent.env"));
    expect(code).toBe(1);
    expect(stdout).toMatch(/\[env\] invalid\n {2}error: {3}.*absent.env: ENOENT/);
  });
});
