import { execFile } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { parseComposeText, referencedVariables } from "../../scripts/deploy-checks/compose-files.ts";
import { DotenvError, parseDotenv } from "../../scripts/deploy-checks/dotenv.ts";
import { checkWranglerText } from "../../scripts/deploy-checks/edge.ts";
import { checkEnv } from "../../scripts/deploy-checks/env.ts";
import { parseJsonc, stripJsonc } from "../../scripts/deploy-checks/jsonc.ts";
import { formatReport } from "../../scripts/deploy-checks/report.ts";
import { runDeployChecks } from "../../scripts/deploy-checks/run.ts";
import { canRead, checkSecretFiles } from "../../scripts/deploy-checks/secrets.ts";
import {
  deploymentDir,
  grantTo,
  ROOT,
  SECRET_FILES,
  toDotenv,
  tunnelConfig,
  VALID_ENV,
  WORLD_READABLE,
} from "./deploy-fixture.ts";

const dirs: string[] = [];
const deployment = (overrides: Record<string, string> = {}) => {
  const dir = deploymentDir(overrides);
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const composeText = readFileSync(join(ROOT, "docker-compose.yml"), "utf8");
const compose = parseComposeText(composeText);
const composeVariables = referencedVariables(composeText);
const envCheck = (dir: string, env: Record<string, string>) =>
  checkEnv(env, { baseDir: dir, compose, composeVariables });
const withoutWorldReadable = (warnings: string[]) =>
  warnings.filter((warning) => !WORLD_READABLE.test(warning));

describe("checkEnv (the origin's environment as compose builds it, secrets from the files)", () => {
  it("accepts a complete .env and secrets directory", () => {
    const result = envCheck(deployment(), VALID_ENV);
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual([]);
  });

  const broken: [string, Record<string, string>, Record<string, string>, RegExp][] = [
    ["short audit key", {}, { audit_hmac_key: "short" }, /^AUDIT_HMAC_KEY: .*at least 32 bytes/],
    ["empty signing key", {}, { edge_signing_key: "\n" }, /^EDGE_SIGNING_KEY: .*at least 32 bytes/],
    ["empty Connect token", {}, { op_connect_token: "" }, /^OP_CONNECT_TOKEN:/],
    ["window out of range", { SIGNATURE_WINDOW_SECONDS: "3600" }, {}, /^SIGNATURE_WINDOW_SECONDS:/],
    ["lease not a number", { LEASE_TTL_SECONDS: "soon" }, {}, /^LEASE_TTL_SECONDS:/],
    ["JWKS without audience", { ACCESS_AUDIENCE: "" }, {}, /^ACCESS_AUDIENCE: .*together/],
    ["JWKS not a URL", { ACCESS_JWKS_URL: "team.cloudflareaccess.com" }, {}, /^ACCESS_JWKS_URL:/],
    ["bad log level", { LOG_LEVEL: "loud" }, {}, /^LOG_LEVEL:/],
    ["bad Connect log level", { OP_LOG_LEVEL: "loud" }, {}, /^OP_LOG_LEVEL:/],
  ];
  it.each(broken)("names the variable: %s", (_, change, secrets, expected) => {
    const { errors } = envCheck(deployment(secrets), { ...VALID_ENV, ...change });
    expect(
      errors.some((error) => expected.test(error)),
      errors.join("\n"),
    ).toBe(true);
  });

  it("accepts .env.example as shipped: every variable it names is read by the stack", () => {
    const example = parseDotenv(readFileSync(join(ROOT, ".env.example"), "utf8"));
    const { errors, warnings } = envCheck(deployment(), example);
    expect(errors).toEqual([]);
    expect(warnings).toEqual([expect.stringMatching(/^ACCESS_JWKS_URL: not set/)]);
  });

  it("names a missing secret file", () => {
    const dir = deployment();
    rmSync(join(dir, "secrets/edge_signing_key"));
    const { errors } = envCheck(dir, VALID_ENV);
    expect(errors).toContainEqual(
      expect.stringMatching(/^EDGE_SIGNING_KEY_FILE: cannot read \/run\/secrets\/edge_signing_key: ENOENT/),
    );
  });

  it("never puts a secret value in its report", () => {
    const dir = deployment({ audit_hmac_key: "short-audit-secret", op_connect_token: "" });
    const { errors, warnings } = envCheck(dir, VALID_ENV);
    expect(errors.length).toBeGreaterThan(0);
    expect(JSON.stringify({ errors, warnings })).not.toMatch(/short-audit-secret|edge-signing-key-with/);
  });

  it("warns about typos, leftover secrets in .env, reused keys, values compose fixes and a missing Access setup", () => {
    const key = SECRET_FILES.edge_signing_key?.content ?? "";
    const { errors, warnings } = envCheck(deployment({ edge_signing_key_previous: key }), {
      ...VALID_ENV,
      EDGE_SIGNNG_KEY: "typo",
      OP_CONNECT_TOKEN: "left-over",
      CLOUDFLARE_TUNNEL_TOKEN: "left-over",
      PORT: "9999",
      ACCESS_JWKS_URL: "",
      ACCESS_AUDIENCE: "",
    });
    expect(errors).toEqual([]);
    const text = warnings.join("\n");
    expect(text).toMatch(/EDGE_SIGNNG_KEY: not used/);
    expect(text).toMatch(
      /OP_CONNECT_TOKEN: secrets are not read from .env; put it in SECRETS_DIR\/op_connect_token/,
    );
    expect(text).toMatch(
      /CLOUDFLARE_TUNNEL_TOKEN: secrets are not read from .env; put it in SECRETS_DIR\/cloudflare_tunnel_token/,
    );
    expect(text).toMatch(/edge_signing_key_previous: equals edge_signing_key/);
    expect(text).toMatch(/PORT: set by docker-compose.yml/);
    expect(text).toMatch(/ACCESS_JWKS_URL: not set/);
  });
});

describe("checkSecretFiles", () => {
  it("accepts files readable by their service's group only", () => {
    const result = checkSecretFiles(compose, VALID_ENV, deployment());
    expect(result.errors).toEqual([]);
    expect(withoutWorldReadable(result.warnings)).toEqual([]);
  });

  it("decides readability as the kernel does for a uid:gid", () => {
    const connect = { uid: 999, gid: 999 };
    expect(canRead(connect, { uid: 0, gid: 0, mode: 0o600 })).toBe(false);
    expect(canRead(connect, { uid: 0, gid: 999, mode: 0o640 })).toBe(true);
    expect(canRead(connect, { uid: 0, gid: 999, mode: 0o600 })).toBe(false);
    expect(canRead(connect, { uid: 999, gid: 0, mode: 0o400 })).toBe(true);
    // The owner's bits decide for the owner, even when the group's would allow it.
    expect(canRead(connect, { uid: 999, gid: 999, mode: 0o040 })).toBe(false);
    expect(canRead(connect, { uid: 0, gid: 0, mode: 0o604 })).toBe(true);
  });

  it.runIf(process.getuid?.() === 0)(
    "refuses a 0600 root credentials file, which Connect (999) cannot read",
    () => {
      const dir = deployment();
      grantTo(join(dir, "secrets/1password-credentials.json"), 0, 0o600);
      const { errors } = checkSecretFiles(compose, VALID_ENV, dir);
      expect(errors).toContainEqual(
        expect.stringMatching(
          /^op_credentials .*: connect-api runs as 999:999 and cannot read it \(owner 0, group 0, mode 0600\); sudo chgrp 999 /,
        ),
      );
      expect(errors.join("\n")).toMatch(/connect-sync runs as 999:999 and cannot read it/);
    },
  );

  it.runIf(process.getuid?.() === 0)(
    "refuses a token the origin (1000) cannot read, and warns about world-readable files",
    () => {
      const dir = deployment();
      grantTo(join(dir, "secrets/op_connect_token"), 65532);
      grantTo(join(dir, "secrets/audit_hmac_key"), 0, 0o444);
      const { errors, warnings } = checkSecretFiles(compose, VALID_ENV, dir);
      // The second replica (replicas profile) mounts the same secret and is named as well.
      expect(errors).toEqual([
        expect.stringMatching(/^op_connect_token .*: origin runs as 1000:1000 and cannot read it/),
        expect.stringMatching(/^op_connect_token .*: origin-2 runs as 1000:1000 and cannot read it/),
      ]);
      expect(warnings).toEqual([expect.stringMatching(/^audit_hmac_key .*: readable by every user/)]);
    },
  );

  it("checks what the files hold: Connect credentials JSON, a tunnel token", () => {
    const dir = deployment({
      "1password-credentials.json": "not json",
      cloudflare_tunnel_token: "not-a-token",
    });
    const { errors } = checkSecretFiles(compose, VALID_ENV, dir);
    expect(errors).toContainEqual(
      expect.stringMatching(/^op_credentials .*: is not the JSON file `op connect server create` writes/),
    );
    expect(errors).toContainEqual(
      expect.stringMatching(/^cloudflare_tunnel_token .*: is not a tunnel token/),
    );
  });

  it("names a missing file with its host path", () => {
    const dir = deployment();
    rmSync(join(dir, "secrets/cloudflare_tunnel_token"));
    const { errors } = checkSecretFiles(compose, VALID_ENV, dir);
    expect(errors).toEqual([
      `cloudflare_tunnel_token (${join(dir, "secrets/cloudflare_tunnel_token")}): cannot use it: ENOENT`,
    ]);
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
      "kv_namespaces": [{ "binding": "SESSIONS_KV", "id": "9a1d0c7e5b2f4e6a8c3d1f0b7e2a4c6d" }],
      "durable_objects": { "bindings": [
        { "name": "SESSIONS", "class_name": "SessionStateDO" },
        { "name": "RATE_LIMITER", "class_name": "RateLimiterDO" }
      ] },
      "secrets": { "required": ["ADMIN_TOKEN", "EDGE_SIGNING_KEY", "DOCUMENT_URL_SIGNING_KEY"] }${overrides}
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
    [
      "the presigned-URL key not required",
      wrangler(', "secrets": { "required": ["ADMIN_TOKEN", "EDGE_SIGNING_KEY"] }'),
      /staging: secrets.required must list DOCUMENT_URL_SIGNING_KEY/,
    ],
    [
      "a KV binding without an id",
      wrangler("", ', "kv_namespaces": [{ "binding": "SESSIONS_KV" }]'),
      /production: KV binding SESSIONS_KV has no id/,
    ],
    [
      "a development env deployed",
      wrangler(', "vars": { "ORIGIN_URL": "https://o.chitty.cc", "ENVIRONMENT": "development" }'),
      /staging: vars.ENVIRONMENT must not be "development"/,
    ],
    ["missing env", '{ "env": { "staging": {} } }', /env.production: missing/],
    [
      "timeout not a number",
      wrangler(', "vars": { "ORIGIN_URL": "https://origin.chitty.cc", "ORIGIN_TIMEOUT_MS": "ten seconds" }'),
      /staging: vars.ORIGIN_TIMEOUT_MS: ORIGIN_TIMEOUT_MS must be an integer from 1 to 60000/,
    ],
    [
      "timeout above the maximum",
      wrangler("", ', "vars": { "ORIGIN_URL": "https://origin.chitty.cc", "ORIGIN_TIMEOUT_MS": 120000 }'),
      /production: vars.ORIGIN_TIMEOUT_MS: ORIGIN_TIMEOUT_MS must be an integer/,
    ],
    [
      "no rate limiter object",
      wrangler(
        "",
        ', "durable_objects": { "bindings": [{ "name": "SESSIONS", "class_name": "SessionStateDO" }] }',
      ),
      /production: durable_objects.bindings must bind RATE_LIMITER to RateLimiterDO/,
    ],
    [
      "a rate-limit exemption deployed",
      wrangler(', "vars": { "ORIGIN_URL": "https://o.chitty.cc", "RATE_LIMIT_EXEMPT_OWNERS": "01-C-X" }'),
      /staging: vars.RATE_LIMIT_EXEMPT_OWNERS: RATE_LIMIT_EXEMPT_OWNERS is only allowed with ENVIRONMENT=development/,
    ],
    [
      "a rate limit of zero",
      wrangler(
        "",
        ', "vars": { "ORIGIN_URL": "https://o.chitty.cc", "RATE_LIMIT_CREDENTIALS_PER_MINUTE": "0" }',
      ),
      /production: vars.RATE_LIMIT_CREDENTIALS_PER_MINUTE: RATE_LIMIT_CREDENTIALS_PER_MINUTE must be an integer from 1 to 100000/,
    ],
    [
      "CORS for any origin in production",
      wrangler("", ', "vars": { "ORIGIN_URL": "https://origin.chitty.cc", "CORS_ORIGINS": "*" }'),
      /production: vars.CORS_ORIGINS: CORS_ORIGINS=\* is allowed only with ENVIRONMENT=development/,
    ],
    [
      "a CORS entry that is not an origin",
      wrangler(
        ', "vars": { "ORIGIN_URL": "https://origin.chitty.cc", "CORS_ORIGINS": "https://app.chitty.cc/" }',
      ),
      /staging: vars.CORS_ORIGINS: CORS_ORIGINS entry "https:\/\/app.chitty.cc\/" is not an origin/,
    ],
    [
      "the bench's bare route deployed",
      wrangler(', "vars": { "ORIGIN_URL": "https://origin.chitty.cc", "PLATFORM_BENCH_BARE_ROUTE": "true" }'),
      /staging: vars.PLATFORM_BENCH_BARE_ROUTE: PLATFORM_BENCH_BARE_ROUTE=true is allowed only with ENVIRONMENT=development/,
    ],
    [
      "FEATURE_FLAGS that is not the flags' shape",
      wrangler(
        ', "vars": { "ORIGIN_URL": "https://o.chitty.cc", "FEATURE_FLAGS": "{\\"msgpack\\":{\\"rolloutPercentage\\":150}}" }',
      ),
      /staging: vars.FEATURE_FLAGS: FEATURE_FLAGS.msgpack.rolloutPercentage/,
    ],
    [
      "both switches of the durableObjects flag",
      wrangler(
        "",
        ', "vars": { "ORIGIN_URL": "https://o.chitty.cc", "ENABLE_DURABLE_OBJECTS": "true", "FEATURE_FLAGS": "{\\"durableObjects\\":{\\"enabled\\":false}}" }',
      ),
      /production: vars.FEATURE_FLAGS: .*keep one/,
    ],
    ["not JSONC", "{ nope", /does not parse/],
  ])("rejects %s", (_, text, expected) => {
    const { errors } = checkWranglerText(text);
    expect(
      errors.some((error) => expected.test(error)),
      errors.join("\n"),
    ).toBe(true);
  });

  it("warns about a flag the env's defaults turn on for nobody (the configuration report's flags findings)", () => {
    const { errors, warnings } = checkWranglerText(
      wrangler(
        ', "vars": { "ORIGIN_URL": "https://o.chitty.cc", "FEATURE_FLAGS": "{\\"credentials\\":{\\"rolloutPercentage\\":0}}" }',
      ),
    );
    expect(errors).toEqual([]);
    expect(warnings).toEqual([
      "env.staging: vars.FEATURE_FLAGS credentials: enabled at 0 % with no listed owner, so it is on for nobody",
    ]);
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

  it("warns about placeholder KV namespace ids, as the repository's wrangler.jsonc still has", () => {
    const { errors, warnings } = checkWranglerText(
      wrangler(
        "",
        ', "kv_namespaces": [{ "binding": "SESSIONS_KV", "id": "REPLACE_WITH_PRODUCTION_KV_ID" }]',
      ),
    );
    expect(errors).toEqual([]);
    expect(warnings.join("\n")).toMatch(
      /production: KV binding SESSIONS_KV id "REPLACE_WITH_PRODUCTION_KV_ID" is a placeholder/,
    );
    const project = checkWranglerText(readFileSync(join(ROOT, "edge/wrangler.jsonc"), "utf8"));
    expect(project.warnings.join("\n")).toMatch(/staging: KV binding SESSIONS_KV id .* is a placeholder/);
  });
});

describe("check-deploy", () => {
  const run = (envFile: string) =>
    promisify(execFile)(process.execPath, [join(ROOT, "scripts/check-deploy.ts"), "--env", envFile]).then(
      ({ stdout }) => ({ code: 0, stdout }),
      (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
    );

  it("reports every section valid for a complete deployment directory", () => {
    const dir = deployment();
    const sections = runDeployChecks({ root: ROOT, envFile: join(dir, ".env") });
    expect(sections.map((section) => section.name)).toEqual([
      "env",
      "policy",
      "compose",
      "secrets",
      "dockerfile",
      "nginx",
      "edge",
    ]);
    for (const section of sections) expect(section.errors, section.name).toEqual([]);
    // The dev policy grants every owner: fine for the stack, flagged for production.
    expect(sections[1]?.warnings.join("\n")).toMatch(/grants every owner/);
  });

  it("checks the locally-managed tunnel when COMPOSE_FILE adds docker-compose.tunnel-config.yml", () => {
    const dir = deployment();
    const composeFile = ["docker-compose.yml", "docker-compose.tunnel-config.yml"].map((file) =>
      join(ROOT, file),
    );
    writeFileSync(join(dir, ".env"), toDotenv({ ...VALID_ENV, COMPOSE_FILE: composeFile.join(":") }));
    tunnelConfig(dir);
    const sections = runDeployChecks({ root: ROOT, envFile: join(dir, ".env") });
    expect(sections.map((section) => section.name)).toContain("cloudflared");
    for (const section of sections) expect(section.errors, section.name).toEqual([]);

    // The repository's placeholder config, pprof on every interface, a second service.
    tunnelConfig(dir, (text) =>
      text
        .replace(/^tunnel: .*$/m, "tunnel: REPLACE_WITH_TUNNEL_ID")
        .replace("metrics: 127.0.0.1:2000", "metrics: 0.0.0.0:2000")
        .replace("service: http://nginx:8080", "service: http://origin:8090"),
    );
    rmSync(join(dir, "secrets/cloudflared-credentials.json"));
    const broken = runDeployChecks({ root: ROOT, envFile: join(dir, ".env") });
    const errors = broken
      .flatMap((section) => section.errors.map((error) => `${section.name}: ${error}`))
      .join("\n");
    expect(errors).toMatch(/cloudflared: tunnel: must be the tunnel's id/);
    expect(errors).toMatch(/cloudflared: metrics: must listen on loopback only, got 0\.0\.0\.0:2000/);
    expect(errors).toMatch(/cloudflared: ingress: origin\.chitty\.cc must be served by http:\/\/nginx:8080/);
    expect(errors).toMatch(/secrets: cloudflared_credentials .*: cannot use it: ENOENT/);
    // The token is not needed in this mode.
    expect(errors).not.toMatch(/cloudflare_tunnel_token/);
  });

  it("flags a policy that does not load", () => {
    const dir = deployment();
    writeFileSync(join(dir, "bad-policy.yaml"), "version: 2\nrules: []\n");
    writeFileSync(join(dir, ".env"), toDotenv({ ...VALID_ENV, POLICY_PATH: "./bad-policy.yaml" }));
    const [, policy] = runDeployChecks({ root: ROOT, envFile: join(dir, ".env") });
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

  it("exits 0 and prints totals when everything is valid", async () => {
    const { code, stdout } = await run(join(deployment(), ".env"));
    expect(stdout).toMatch(/^\[env\] valid$/m);
    expect(stdout).toMatch(/^Totals: 7 valid, 0 invalid, \d+ warning\(s\) in 7 section\(s\)$/m);
    expect(code).toBe(0);
  });

  it("exits 1 naming each missing or malformed secret", async () => {
    const dir = deployment({ audit_hmac_key: "short" });
    rmSync(join(dir, "secrets/edge_signing_key"));
    const { code, stdout } = await run(join(dir, ".env"));
    expect(code).toBe(1);
    expect(stdout).toMatch(/^\[env\] invalid/m);
    expect(stdout).toMatch(
      /error: {3}EDGE_SIGNING_KEY_FILE: cannot read \/run\/secrets\/edge_signing_key: ENOENT/,
    );
    expect(stdout).toMatch(/error: {3}AUDIT_HMAC_KEY: AUDIT_HMAC_KEY must be at least 32 bytes/);
    expect(stdout).toMatch(/^\[secrets\] invalid/m);
  });

  it("exits 1 when the .env file is missing", async () => {
    const { code, stdout } = await run(join(deployment(), "absent.env"));
    expect(code).toBe(1);
    expect(stdout).toMatch(/\[env\] invalid\n {2}error: {3}.*absent.env: ENOENT/);
  });
});
