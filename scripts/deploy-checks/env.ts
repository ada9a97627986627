import { readFileSync, statSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { OriginEnvSchema } from "../../origin/src/config.ts";
import { type SectionResult, section } from "./report.ts";

/** Set by docker-compose.yml itself: a value in `.env` would be ignored. */
const SET_BY_COMPOSE = {
  OP_CONNECT_HOST: "http://connect-api:8080",
  HOST: "0.0.0.0",
  PORT: "8090",
  POLICY_FILE: "/etc/chittyconnect/policy.yaml",
  AUDIT_LOG_FILE: "/var/lib/chittyconnect/audit/audit.log",
} as const;

/** Read by docker-compose.yml only (not the origin). */
const COMPOSE_ONLY = [
  "CLOUDFLARE_TUNNEL_TOKEN",
  "OP_CREDENTIALS_FILE",
  "OP_LOG_LEVEL",
  "POLICY_PATH",
  "ORIGIN_IMAGE",
  "ORIGIN_TAG",
  "NGINX_DEV_PORT",
] as const;

const MAX_CREDENTIALS_BYTES = 65_536;

export interface EnvCheckOptions {
  /** Relative paths in `.env` resolve against this directory (where compose runs). */
  baseDir: string;
}

/**
 * Checks `.env` as compose will pass it on: blank values count as unset (compose's `:-`/`:?`
 * treat them so), the origin's variables go through the origin's own schema.
 */
export function checkEnv(env: Readonly<Record<string, string>>, options: EnvCheckOptions): SectionResult {
  const result = section("env");
  const set = Object.fromEntries(Object.entries(env).filter(([, value]) => value.trim() !== ""));

  const origin = OriginEnvSchema.safeParse({ ...set, ...SET_BY_COMPOSE });
  if (!origin.success) {
    for (const issue of origin.error.issues) {
      result.errors.push(`${issue.path.join(".") || "(environment)"}: ${issue.message}`);
    }
  }

  checkTunnelToken(set.CLOUDFLARE_TUNNEL_TOKEN, result);
  checkCredentialsFile(set.OP_CREDENTIALS_FILE ?? "./1password-credentials.json", options.baseDir, result);
  if (set.OP_LOG_LEVEL !== undefined && !["debug", "info", "warn", "error"].includes(set.OP_LOG_LEVEL)) {
    result.errors.push(
      `OP_LOG_LEVEL: must be debug, info, warn or error, got ${JSON.stringify(set.OP_LOG_LEVEL)}`,
    );
  }
  if (set.ORIGIN_TAG !== undefined && !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(set.ORIGIN_TAG)) {
    result.errors.push("ORIGIN_TAG: not a valid image tag");
  }

  for (const key of Object.keys(SET_BY_COMPOSE)) {
    if (key in set) result.warnings.push(`${key}: set by docker-compose.yml; the value in .env is ignored`);
  }
  const known = new Set<string>([...Object.keys(OriginEnvSchema.shape), ...COMPOSE_ONLY]);
  for (const key of Object.keys(env)) {
    if (!known.has(key)) result.warnings.push(`${key}: not used by the stack (a typo?)`);
  }
  if (set.EDGE_SIGNING_KEY !== undefined && set.EDGE_SIGNING_KEY === set.EDGE_SIGNING_KEY_PREVIOUS) {
    result.warnings.push(
      "EDGE_SIGNING_KEY_PREVIOUS: equals EDGE_SIGNING_KEY; clear it once a rotation is done",
    );
  }
  if (set.AUDIT_HMAC_KEY !== undefined && set.AUDIT_HMAC_KEY === set.EDGE_SIGNING_KEY) {
    result.warnings.push("AUDIT_HMAC_KEY: equals EDGE_SIGNING_KEY; use independent keys");
  }
  if (set.ACCESS_JWKS_URL === undefined) {
    result.warnings.push(
      "ACCESS_JWKS_URL: not set; the origin relies on the edge signature alone (no Access JWT)",
    );
  }
  if (set.LOG_LEVEL === "debug" || set.LOG_LEVEL === "trace") {
    result.warnings.push(`LOG_LEVEL: ${set.LOG_LEVEL} is verbose for production`);
  }
  return result;
}

/** A remotely-managed tunnel's token is base64 JSON naming the account (a), tunnel (t), secret (s). */
function checkTunnelToken(token: string | undefined, result: SectionResult): void {
  if (token === undefined) {
    result.errors.push(
      "CLOUDFLARE_TUNNEL_TOKEN: is required (the tunnel's token from the Zero Trust dashboard)",
    );
    return;
  }
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(token, "base64").toString("utf8"));
  } catch {
    decoded = undefined;
  }
  const fields = decoded as Record<string, unknown> | undefined;
  if (typeof fields?.a !== "string" || typeof fields.t !== "string" || typeof fields.s !== "string") {
    result.errors.push(
      "CLOUDFLARE_TUNNEL_TOKEN: malformed (expected the base64 token `cloudflared tunnel token` prints)",
    );
  }
}

function checkCredentialsFile(path: string, baseDir: string, result: SectionResult): void {
  const file = isAbsolute(path) ? path : resolve(baseDir, path);
  let text: string;
  try {
    const stat = statSync(file);
    if (!stat.isFile()) throw new Error("not a regular file");
    if (stat.size > MAX_CREDENTIALS_BYTES) throw new Error(`larger than ${MAX_CREDENTIALS_BYTES} bytes`);
    if ((stat.mode & 0o007) !== 0) {
      result.warnings.push(`OP_CREDENTIALS_FILE: ${path} is readable by other users; chmod o-rwx it`);
    }
    text = readFileSync(file, "utf8");
  } catch (error) {
    result.errors.push(`OP_CREDENTIALS_FILE: cannot read ${path}: ${(error as Error).message}`);
    return;
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed))
      throw new Error("not an object");
  } catch {
    result.errors.push(
      `OP_CREDENTIALS_FILE: ${path} is not the JSON file \`op connect server create\` writes`,
    );
  }
}
