import { commaList, ProblemError } from "@chittyconnect/contract";
import { z } from "zod";
import { FeatureFlagsVarSchema, type FlagDefaults, flagDefaults } from "./flags/definitions.ts";

/**
 * The edge's configuration (wrangler vars and secrets), validated once per environment object.
 * A bad value is an error naming the variable, at the first request and in check:deploy; it never
 * falls back to a default. An absent optional variable takes its documented default.
 */
const bytes = (value: string) => new TextEncoder().encode(value).byteLength;

export const ORIGIN_TIMEOUT_DEFAULT_MS = 10_000;
export const ORIGIN_TIMEOUT_MAX_MS = 60_000;
export const ONE_YEAR_SECONDS = 365 * 24 * 60 * 60;
const DEFAULT_TOKEN_MAX_LIFETIME_SECONDS = 90 * 24 * 60 * 60;
const TOKEN_MAX_LIFETIME_MIN_SECONDS = 60;

/** A plainly written whole number within [min, max]; absent → `fallback`; anything else an issue. */
function integerVar(name: string, min: number, max: number, fallback: number, unit: string) {
  // One leading zero at most beyond max's own digits; no sign, exponent or fraction.
  const plain = new RegExp(`^\\d{1,${String(max).length + 1}}$`);
  return z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined) return fallback;
      const value = plain.test(text) ? Number(text) : Number.NaN;
      if (!(value >= min && value <= max)) {
        ctx.addIssue({
          code: "custom",
          message: `${name} must be an integer from ${min} to ${max} (${unit})`,
        });
        return z.NEVER;
      }
      return value;
    });
}

/** Per-minute limits by route class (platform/rate-limit.ts); each overridable per environment. */
export const RATE_LIMIT_DEFAULTS = {
  credentials: 100,
  sessions: 500,
  documents: 2000,
  admin: 2000,
  other: 2000,
} as const;
/** The sliding-window log keeps one timestamp per allowed request: the cap bounds its memory. */
export const RATE_LIMIT_MAX_PER_MINUTE = 100_000;
const OWNER_LIST_MAX = 100;

const rateLimitVar = (name: string, fallback: number) =>
  integerVar(name, 1, RATE_LIMIT_MAX_PER_MINUTE, fallback, "requests a minute");

/**
 * One browser origin exactly as a browser sends it in `Origin`: `scheme://host[:port]`, lower case,
 * no path, no trailing slash, no default port. Anything else could never match and hides a typo.
 */
function isOrigin(entry: string): boolean {
  try {
    const url = new URL(entry);
    return (url.protocol === "https:" || url.protocol === "http:") && url.origin === entry;
  } catch {
    return false;
  }
}

/** `CORS_ORIGINS`: comma-separated exact origins, or `*` (development only, checked below). */
const corsOrigins = z
  .string()
  .optional()
  .transform((text, ctx) => {
    const entries = commaList(text);
    for (const entry of entries) {
      if (entry !== "*" && !isOrigin(entry)) {
        ctx.addIssue({
          code: "custom",
          message: `CORS_ORIGINS entry ${JSON.stringify(entry)} is not an origin (scheme://host[:port], no path or trailing slash)`,
        });
        return z.NEVER;
      }
    }
    if (entries.includes("*") && entries.length > 1) {
      ctx.addIssue({ code: "custom", message: "CORS_ORIGINS is either * alone or a list of origins" });
      return z.NEVER;
    }
    return entries;
  });

const booleanVar = (name: string) =>
  z
    .enum(["true", "false"], { error: `${name} must be true or false` })
    .optional()
    .transform((text) => text === "true");

/** `FEATURE_FLAGS`: a JSON object of flag defaults (flags/definitions.ts); absent → every flag on. */
const featureFlagsVar = z
  .string()
  .optional()
  .transform((text, ctx) => {
    if (text === undefined || text.trim() === "") return {};
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      ctx.addIssue({ code: "custom", message: "FEATURE_FLAGS must be a JSON object" });
      return z.NEVER;
    }
    const parsed = FeatureFlagsVarSchema.safeParse(value);
    if (parsed.success) return parsed.data;
    for (const issue of parsed.error.issues) {
      ctx.addIssue({ code: "custom", message: `FEATURE_FLAGS.${issue.path.join(".")}: ${issue.message}` });
    }
    return z.NEVER;
  });

const EdgeVarsObject = z.object({
  ORIGIN_URL: z.url({
    protocol: /^https?$/,
    error: "ORIGIN_URL must be an http(s) URL (the tunnel hostname in staging and production)",
  }),
  ORIGIN_TIMEOUT_MS: integerVar(
    "ORIGIN_TIMEOUT_MS",
    1,
    ORIGIN_TIMEOUT_MAX_MS,
    ORIGIN_TIMEOUT_DEFAULT_MS,
    "milliseconds",
  ),
  /**
   * Absent counts as a deployment (not development), so a config that forgets to say still gets
   * the stricter admin-token rule of auth/admin-policy.ts.
   */
  ENVIRONMENT: z
    .enum(["development", "staging", "production"], {
      error: "ENVIRONMENT must be development, staging or production",
    })
    .optional(),
  TOKEN_MAX_LIFETIME_SECONDS: integerVar(
    "TOKEN_MAX_LIFETIME_SECONDS",
    TOKEN_MAX_LIFETIME_MIN_SECONDS,
    ONE_YEAR_SECONDS,
    DEFAULT_TOKEN_MAX_LIFETIME_SECONDS,
    "seconds",
  ),
  RATE_LIMIT_CREDENTIALS_PER_MINUTE: rateLimitVar(
    "RATE_LIMIT_CREDENTIALS_PER_MINUTE",
    RATE_LIMIT_DEFAULTS.credentials,
  ),
  RATE_LIMIT_SESSIONS_PER_MINUTE: rateLimitVar(
    "RATE_LIMIT_SESSIONS_PER_MINUTE",
    RATE_LIMIT_DEFAULTS.sessions,
  ),
  RATE_LIMIT_DOCUMENTS_PER_MINUTE: rateLimitVar(
    "RATE_LIMIT_DOCUMENTS_PER_MINUTE",
    RATE_LIMIT_DEFAULTS.documents,
  ),
  RATE_LIMIT_ADMIN_PER_MINUTE: rateLimitVar("RATE_LIMIT_ADMIN_PER_MINUTE", RATE_LIMIT_DEFAULTS.admin),
  RATE_LIMIT_OTHER_PER_MINUTE: rateLimitVar("RATE_LIMIT_OTHER_PER_MINUTE", RATE_LIMIT_DEFAULTS.other),
  /**
   * Owners the limiter skips (comma-separated), for the benchmark's limiter-off baseline. Refused
   * outside ENVIRONMENT=development: a deployed edge limits everyone.
   */
  RATE_LIMIT_EXEMPT_OWNERS: z
    .string()
    .optional()
    .transform((text, ctx) => {
      const owners = commaList(text);
      if (owners.length > OWNER_LIST_MAX) {
        ctx.addIssue({
          code: "custom",
          message: `RATE_LIMIT_EXEMPT_OWNERS names more than ${OWNER_LIST_MAX} owners`,
        });
        return z.NEVER;
      }
      return owners;
    }),
  CORS_ORIGINS: corsOrigins,
  PLATFORM_BENCH_BARE_ROUTE: booleanVar("PLATFORM_BENCH_BARE_ROUTE"),
  FEATURE_FLAGS: featureFlagsVar,
  /** The older switch for the `durableObjects` flag's default; see flags/definitions.ts. */
  ENABLE_DURABLE_OBJECTS: z
    .enum(["true", "false"], { error: "ENABLE_DURABLE_OBJECTS must be true or false" })
    .optional(),
});

type EdgeVars = z.infer<typeof EdgeVarsObject>;
const DEVELOPMENT_ONLY_NAMES = [
  "ENVIRONMENT",
  "CORS_ORIGINS",
  "PLATFORM_BENCH_BARE_ROUTE",
  "RATE_LIMIT_EXEMPT_OWNERS",
];

/**
 * What only a development edge may do: answer any origin (`CORS_ORIGINS=*`), mount the
 * bench's bare route and exempt owners from the rate limits. An absent ENVIRONMENT counts as a deployment, as for the admin token.
 */
function developmentOnly(vars: EdgeVars, ctx: z.RefinementCtx): void {
  if (vars.ENVIRONMENT === "development") return;
  if (vars.CORS_ORIGINS.includes("*")) {
    ctx.addIssue({
      code: "custom",
      path: ["CORS_ORIGINS"],
      message: "CORS_ORIGINS=* is allowed only with ENVIRONMENT=development; list the origins",
    });
  }
  if (vars.RATE_LIMIT_EXEMPT_OWNERS.length > 0) {
    ctx.addIssue({
      code: "custom",
      path: ["RATE_LIMIT_EXEMPT_OWNERS"],
      message: "RATE_LIMIT_EXEMPT_OWNERS is only allowed with ENVIRONMENT=development",
    });
  }
  if (vars.PLATFORM_BENCH_BARE_ROUTE) {
    ctx.addIssue({
      code: "custom",
      path: ["PLATFORM_BENCH_BARE_ROUTE"],
      message: "PLATFORM_BENCH_BARE_ROUTE=true is allowed only with ENVIRONMENT=development",
    });
  }
}

// Runs even when unrelated variables are wrong, so one answer names every problem.
const whenDevelopmentOnlyNamesParsed = {
  when: (payload: { issues: ReadonlyArray<{ path?: ReadonlyArray<PropertyKey> }> }) =>
    !payload.issues.some((issue) => DEVELOPMENT_ONLY_NAMES.includes(String(issue.path?.[0]))),
};

/** What wrangler.jsonc's `vars` hold; check:deploy validates each deploy environment with it. */
export const EdgeVarsSchema = EdgeVarsObject.superRefine(developmentOnly, whenDevelopmentOnlyNamesParsed);

/** One source for the durableObjects default: FEATURE_FLAGS or ENABLE_DURABLE_OBJECTS, not both. */
const oneDurableObjectsSwitch = (vars: Pick<EdgeVars, "ENABLE_DURABLE_OBJECTS" | "FEATURE_FLAGS">) =>
  !(vars.ENABLE_DURABLE_OBJECTS !== undefined && vars.FEATURE_FLAGS?.durableObjects);
const twoDurableObjectsSwitches = {
  path: ["FEATURE_FLAGS"],
  message:
    "FEATURE_FLAGS.durableObjects and ENABLE_DURABLE_OBJECTS both set the durableObjects flag; keep one (remove ENABLE_DURABLE_OBJECTS)",
  when: () => true,
};

/** The vars with the rules that span several of them, as check:deploy applies them. */
export const DeployVarsSchema = EdgeVarsSchema.refine(oneDurableObjectsSwitch, twoDurableObjectsSwitches);

export const EdgeConfigSchema = EdgeVarsObject.extend({
  // The floor everywhere; auth/admin-policy.ts asks for more outside development.
  ADMIN_TOKEN: z
    .string({ error: "ADMIN_TOKEN is required (wrangler secret put ADMIN_TOKEN)" })
    .refine((value) => bytes(value) >= 16, { message: "ADMIN_TOKEN must be at least 16 bytes" }),
  EDGE_SIGNING_KEY: z
    .string({ error: "EDGE_SIGNING_KEY is required (wrangler secret put EDGE_SIGNING_KEY)" })
    .refine((value) => bytes(value) >= 32, { message: "EDGE_SIGNING_KEY must be at least 32 bytes" }),
  CF_ACCESS_CLIENT_ID: z.string().optional(),
  CF_ACCESS_CLIENT_SECRET: z.string().optional(),
})
  .refine((config) => Boolean(config.CF_ACCESS_CLIENT_ID) === Boolean(config.CF_ACCESS_CLIENT_SECRET), {
    path: ["CF_ACCESS_CLIENT_SECRET"],
    message: "CF_ACCESS_CLIENT_ID and CF_ACCESS_CLIENT_SECRET must be set together (or neither)",
    // Checked even when other variables are wrong, so one answer names every problem.
    when: () => true,
  })
  .superRefine(developmentOnly, whenDevelopmentOnlyNamesParsed)
  .refine(oneDurableObjectsSwitch, twoDurableObjectsSwitches);

export type EdgeConfig = z.infer<typeof EdgeConfigSchema>;

/** The flags' defaults in this configuration (before any KV override). */
export function configuredFlagDefaults(config: EdgeConfig): FlagDefaults {
  return flagDefaults(config.FEATURE_FLAGS, config.ENABLE_DURABLE_OBJECTS);
}

/** One line per problem: `NAME: message`. Values never appear, only names. */
export function configProblems(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.join(".") || "(environment)"}: ${issue.message}`);
}

const parsed = new WeakMap<object, { config: EdgeConfig } | { problems: string[] }>();

/**
 * The validated configuration of this environment, or a 500 `edge_misconfigured` problem naming
 * every bad variable (logged once per environment object as well). Takes any object so that
 * check:deploy can import this file without the Workers types.
 */
export function edgeConfig(env: object): EdgeConfig {
  let entry = parsed.get(env);
  if (entry === undefined) {
    const result = EdgeConfigSchema.safeParse(env);
    entry = result.success ? { config: result.data } : { problems: configProblems(result.error) };
    if ("problems" in entry) {
      console.error(JSON.stringify({ level: "error", msg: "edge misconfigured", problems: entry.problems }));
    }
    parsed.set(env, entry);
  }
  if ("config" in entry) return entry.config;
  throw new ProblemError({
    status: 500,
    code: "edge_misconfigured",
    title: "Edge misconfigured",
    detail: `The edge's configuration is invalid: ${entry.problems.join("; ")}. Fix it with wrangler (vars or secrets) and deploy again.`,
  });
}
