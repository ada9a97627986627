import { parseOriginConfig, readSecretFile, SECRET_VARIABLES } from "../../origin/src/config.ts";
import { mountedSecrets } from "./compose.ts";
import { interpolate, isObject } from "./compose-files.ts";
import { type SectionResult, section } from "./report.ts";
import { secretFiles } from "./secrets.ts";

/** Variables compose itself reads from .env (not through `${...}` in a file). */
const COMPOSE_OWN = ["COMPOSE_FILE", "COMPOSE_PROJECT_NAME", "COMPOSE_PROFILES", "COMPOSE_PATH_SEPARATOR"];
/** Secrets that older versions of this stack read from .env; now files in SECRETS_DIR. */
const MOVED_TO_FILES: Record<string, string> = {
  ...Object.fromEntries(SECRET_VARIABLES.map((name) => [name, name.toLowerCase()])),
  CLOUDFLARE_TUNNEL_TOKEN: "cloudflare_tunnel_token",
  OP_CREDENTIALS_FILE: "1password-credentials.json",
};

export interface EnvCheckOptions {
  /** Relative paths in `.env` resolve against this directory (where compose runs). */
  baseDir: string;
  /** The merged compose document `docker compose` will run. */
  compose: unknown;
  /** Every variable the compose files read through `${...}`. */
  composeVariables: ReadonlySet<string>;
}

/**
 * Checks `.env` as compose passes it on: the origin gets exactly the environment its compose
 * service defines (interpolated from .env, blank counting as unset for `:-`/`:?`), its `*_FILE`
 * secrets read from the host files they mount, all through the origin's own parser.
 */
export function checkEnv(env: Readonly<Record<string, string>>, options: EnvCheckOptions): SectionResult {
  const result = section("env");
  const services =
    isObject(options.compose) && isObject(options.compose.services) ? options.compose.services : {};
  const origin = isObject(services.origin) ? services.origin : {};
  const composed = isObject(origin.environment) ? origin.environment : {};

  const originEnv: Record<string, string> = {};
  for (const [key, value] of Object.entries(composed)) {
    try {
      originEnv[key] = interpolate(String(value ?? ""), env);
    } catch (error) {
      result.errors.push((error as Error).message);
    }
  }
  // /run/secrets/<target> inside the container is this file on the host.
  const hostFiles = secretFiles(options.compose, env, options.baseDir);
  const targets = new Map(
    [...mountedSecrets(origin)].map(([name, target]) => [target, hostFiles.get(name) ?? ""]),
  );
  const parsed = parseOriginConfig(originEnv, (path) => {
    const host = targets.get(path);
    if (!host) throw new Error(`${path} is not a secret mounted into the origin`);
    return readSecretFile(host);
  });
  if (!parsed.ok) {
    for (const line of parsed.message.split("\n").slice(1)) result.errors.push(line.replace(/^\s*-\s*/, ""));
  }

  if (env.OP_LOG_LEVEL && !["debug", "info", "warn", "error"].includes(env.OP_LOG_LEVEL)) {
    result.errors.push(
      `OP_LOG_LEVEL: must be debug, info, warn or error, got ${JSON.stringify(env.OP_LOG_LEVEL)}`,
    );
  }
  if (env.ORIGIN_TAG && !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(env.ORIGIN_TAG)) {
    result.errors.push("ORIGIN_TAG: not a valid image tag");
  }

  for (const key of Object.keys(env)) {
    const file = MOVED_TO_FILES[key];
    if (file !== undefined && !options.composeVariables.has(key)) {
      result.warnings.push(
        `${key}: secrets are not read from .env; put it in SECRETS_DIR/${file} and remove it here`,
      );
    } else if (key in composed && !String(composed[key]).includes("${")) {
      result.warnings.push(`${key}: set by docker-compose.yml; the value in .env is ignored`);
    } else if (!options.composeVariables.has(key) && !COMPOSE_OWN.includes(key)) {
      result.warnings.push(`${key}: not used by the stack (a typo?)`);
    }
  }
  if (parsed.ok) {
    const config = parsed.config;
    if (config.EDGE_SIGNING_KEY === config.EDGE_SIGNING_KEY_PREVIOUS) {
      result.warnings.push(
        "edge_signing_key_previous: equals edge_signing_key; empty it once a rotation is done",
      );
    }
    if (config.AUDIT_HMAC_KEY === config.EDGE_SIGNING_KEY) {
      result.warnings.push("audit_hmac_key: equals edge_signing_key; use independent keys");
    }
    if (config.ACCESS_JWKS_URL === undefined) {
      result.warnings.push(
        "ACCESS_JWKS_URL: not set; the origin relies on the edge signature alone (no Access JWT)",
      );
    }
    if (config.LOG_LEVEL === "debug" || config.LOG_LEVEL === "trace") {
      result.warnings.push(`LOG_LEVEL: ${config.LOG_LEVEL} is verbose for production`);
    }
  }
  return result;
}
