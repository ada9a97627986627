import { configProblems, DeployVarsSchema } from "../../edge/src/config.ts";
import { flagDefaults } from "../../edge/src/flags/definitions.ts";
import { defaultFlags, flagFindings } from "../../edge/src/flags/findings.ts";
import { type Doc, isObject } from "./compose-files.ts";
import { parseJsonc } from "./jsonc.ts";
import { type SectionResult, section } from "./report.ts";

export const DEPLOY_ENVS = ["staging", "production"] as const;
export const REQUIRED_EDGE_SECRETS = ["ADMIN_TOKEN", "EDGE_SIGNING_KEY", "DOCUMENT_URL_SIGNING_KEY"] as const;
/** Durable Object bindings the Worker's code uses, with the class each must name. */
export const REQUIRED_DURABLE_OBJECTS = {
  SESSIONS: "SessionStateDO",
  RATE_LIMITER: "RateLimiterDO",
} as const;
const MAX_WRANGLER_BYTES = 262_144;
const PLACEHOLDER = /REPLACE|CHANGE[_-]?ME|TODO|xxxx|local-dev|<[^>]*>|^0+$/i;

/** Checks edge/wrangler.jsonc: every deploy env has its D1 database, an https origin, its secrets. */
export function checkWranglerText(text: string): SectionResult {
  const result = section("edge");
  let doc: unknown;
  try {
    if (Buffer.byteLength(text) > MAX_WRANGLER_BYTES)
      throw new Error(`larger than ${MAX_WRANGLER_BYTES} bytes`);
    doc = parseJsonc(text);
  } catch (error) {
    result.errors.push(`wrangler.jsonc does not parse: ${(error as Error).message}`);
    return result;
  }
  if (!isObject(doc)) {
    result.errors.push("wrangler.jsonc is not an object");
    return result;
  }
  const envs = isObject(doc.env) ? doc.env : {};
  for (const name of DEPLOY_ENVS) {
    const env = envs[name];
    if (!isObject(env)) {
      result.errors.push(`env.${name}: missing`);
      continue;
    }
    checkEnv(name, env, result);
  }
  return result;
}

function checkEnv(name: string, env: Doc, result: SectionResult): void {
  const where = `env.${name}`;
  const databases = Array.isArray(env.d1_databases) ? env.d1_databases : [];
  const db = databases.find((entry): entry is Doc => isObject(entry) && entry.binding === "DB");
  if (!db) {
    result.errors.push(`${where}: no d1_databases entry with binding DB`);
  } else if (typeof db.database_id !== "string" || db.database_id === "") {
    result.errors.push(`${where}: D1 binding DB has no database_id`);
  } else if (PLACEHOLDER.test(db.database_id)) {
    result.warnings.push(
      `${where}: D1 database_id ${JSON.stringify(db.database_id)} is a placeholder (wrangler d1 create, then paste its id)`,
    );
  }

  const namespaces = Array.isArray(env.kv_namespaces) ? env.kv_namespaces : [];
  for (const kv of namespaces) {
    if (!isObject(kv)) continue;
    if (typeof kv.id !== "string" || kv.id === "") {
      result.errors.push(`${where}: KV binding ${String(kv.binding)} has no id`);
    } else if (PLACEHOLDER.test(kv.id)) {
      result.warnings.push(
        `${where}: KV binding ${String(kv.binding)} id ${JSON.stringify(kv.id)} is a placeholder (wrangler kv namespace create, then paste its id)`,
      );
    }
  }

  // Bindings are not inherited from the top level: an env without them fails at its first request.
  const objects =
    isObject(env.durable_objects) && Array.isArray(env.durable_objects.bindings)
      ? env.durable_objects.bindings
      : [];
  for (const [binding, className] of Object.entries(REQUIRED_DURABLE_OBJECTS)) {
    const bound = objects.find((entry): entry is Doc => isObject(entry) && entry.name === binding);
    if (bound?.class_name !== className) {
      result.errors.push(`${where}: durable_objects.bindings must bind ${binding} to ${className}`);
    }
  }

  const vars = isObject(env.vars) ? env.vars : {};
  // The Worker's own schema: what would make it answer edge_misconfigured after the deploy.
  const checked = DeployVarsSchema.safeParse(
    Object.fromEntries(Object.entries(vars).map(([key, value]) => [key, String(value)])),
  );
  if (!checked.success) {
    for (const problem of configProblems(checked.error)) result.errors.push(`${where}: vars.${problem}`);
  } else {
    // The flags section of the edge's own configuration report, on this env's defaults.
    const defaults = flagDefaults(checked.data.FEATURE_FLAGS, checked.data.ENABLE_DURABLE_OBJECTS);
    for (const warning of flagFindings(defaultFlags(defaults)).warnings) {
      result.warnings.push(`${where}: vars.FEATURE_FLAGS ${warning}`);
    }
  }
  const originUrl = vars.ORIGIN_URL;
  let url: URL | undefined;
  try {
    url = typeof originUrl === "string" ? new URL(originUrl) : undefined;
  } catch {
    url = undefined;
  }
  if (url?.protocol !== "https:") {
    result.errors.push(`${where}: vars.ORIGIN_URL must be an https URL, got ${JSON.stringify(originUrl)}`);
  } else if (/(^|\.)example\.(com|org|net)$/.test(url.hostname) || PLACEHOLDER.test(url.hostname)) {
    result.warnings.push(`${where}: vars.ORIGIN_URL ${url.href} is a placeholder hostname`);
  }

  // "development" would turn off the ADMIN_TOKEN length check (edge/src/auth/admin-policy.ts).
  if (vars.ENVIRONMENT === "development") {
    result.errors.push(`${where}: vars.ENVIRONMENT must not be "development" in a deploy env`);
  }

  const secrets = isObject(env.secrets) && Array.isArray(env.secrets.required) ? env.secrets.required : [];
  for (const secret of REQUIRED_EDGE_SECRETS) {
    if (!secrets.includes(secret)) result.errors.push(`${where}: secrets.required must list ${secret}`);
  }
}
