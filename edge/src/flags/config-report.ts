import { z } from "zod";
import { MIN_ADMIN_TOKEN_BYTES } from "../auth/admin-policy.ts";
import { configProblems, EdgeConfigSchema } from "../config.ts";
import { documentConfig } from "../documents/config.ts";
import type { EdgeBindings } from "../env.ts";
import { sessionsConfig } from "../sessions/config.ts";
import type { EffectiveFlag, FlagName } from "./definitions.ts";
import { flagFindings } from "./findings.ts";
import { FlagStore } from "./store.ts";

/**
 * `GET /api/v1/admin/config/validate`: one verdict per section of the edge's configuration.
 * Details state facts (set or not, long enough or not, which binding is missing), never a value
 * or a part of one: the report is for an operator's screen and may be pasted into a ticket.
 */
export const SectionStatusSchema = z.enum(["Valid", "Invalid", "Warning"]);
export type SectionStatus = z.infer<typeof SectionStatusSchema>;

export const ConfigSectionReportSchema = z.object({
  name: z.string(),
  status: SectionStatusSchema,
  details: z.array(z.string()),
  /** True when a KV override (a feature flag in `FLAGS`) changes what this section's defaults say. */
  kvOverride: z.boolean(),
});
export type ConfigSectionReport = z.infer<typeof ConfigSectionReportSchema>;

export const ConfigReportSchema = z.object({
  sections: z.array(ConfigSectionReportSchema),
  totals: z.object({
    total: z.number().int(),
    valid: z.number().int(),
    invalid: z.number().int(),
    warnings: z.number().int(),
  }),
});
export type ConfigReport = z.infer<typeof ConfigReportSchema>;

/** What a section's check sees: the bindings, and the flags when the core configuration allows reading them. */
export interface ConfigCheckContext {
  env: EdgeBindings;
  /** Undefined when the core configuration is invalid (the flag defaults come from it). */
  flags: EffectiveFlag[] | undefined;
}

export interface ConfigSectionCheck {
  name: string;
  check(context: ConfigCheckContext): ConfigSectionReport | Promise<ConfigSectionReport>;
}

/** Collects errors and warnings; the verdict is Invalid with any error, else Warning with any warning. */
class Findings {
  readonly errors: string[] = [];
  readonly warnings: string[] = [];
  readonly facts: string[] = [];

  report(name: string, kvOverride = false): ConfigSectionReport {
    const status: SectionStatus =
      this.errors.length > 0 ? "Invalid" : this.warnings.length > 0 ? "Warning" : "Valid";
    return { name, status, details: [...this.errors, ...this.warnings, ...this.facts], kvOverride };
  }
}

const bytes = (value: string) => new TextEncoder().encode(value).byteLength;
const isSet = (value: unknown): value is string => typeof value === "string" && value !== "";
/** Names a deployment is not meant to keep (the wrangler.jsonc placeholders). */
const PLACEHOLDER_HOST = /(^|\.)example\.(com|org|net)$|REPLACE|CHANGE[_-]?ME/i;

/** A binding is there when it has the method its kind always has; the message names each one missing. */
function missingBindings(
  env: EdgeBindings,
  expected: ReadonlyArray<[name: string, method: string, kind: string]>,
) {
  const bindings = env as unknown as Record<string, Record<string, unknown> | undefined>;
  return expected
    .filter(([name, method]) => typeof bindings[name]?.[method] !== "function")
    .map(([name, , kind]) => `${kind} binding ${name} is missing`);
}

function flagOverridden(context: ConfigCheckContext, name: FlagName): boolean {
  return context.flags?.find((flag) => flag.name === name)?.source === "kv";
}

function flagOffFor(context: ConfigCheckContext, name: FlagName): string | undefined {
  const flag = context.flags?.find((entry) => entry.name === name);
  if (!flag) return undefined;
  const { enabled, rolloutPercentage, allowedOwners } = flag.setting;
  if (!enabled) return `off for every owner (flag ${name}, ${flag.source})`;
  if (rolloutPercentage < 100) {
    return `on for ${rolloutPercentage} % of owners and ${allowedOwners.length} listed owner(s) (flag ${name}, ${flag.source})`;
  }
  return undefined;
}

/** The zod edge configuration of config.ts, as every request checks it. */
const core: ConfigSectionCheck = {
  name: "core",
  check({ env }) {
    const findings = new Findings();
    const parsed = EdgeConfigSchema.safeParse(env);
    if (!parsed.success) findings.errors.push(...configProblems(parsed.error));
    else
      findings.facts.push(`ENVIRONMENT is ${parsed.data.ENVIRONMENT ?? "unset (treated as a deployment)"}`);
    return findings.report("core");
  },
};

const auth: ConfigSectionCheck = {
  name: "auth",
  check({ env }) {
    const findings = new Findings();
    const token: unknown = env.ADMIN_TOKEN;
    const development = env.ENVIRONMENT === "development";
    if (!isSet(token)) {
      findings.errors.push("ADMIN_TOKEN is not set");
    } else if (bytes(token) < MIN_ADMIN_TOKEN_BYTES) {
      const message = `ADMIN_TOKEN is shorter than ${MIN_ADMIN_TOKEN_BYTES} bytes`;
      if (development) findings.warnings.push(`${message} (allowed only because ENVIRONMENT is development)`);
      else findings.errors.push(`${message}: admin routes answer 500 admin_token_too_short`);
    } else {
      findings.facts.push(`ADMIN_TOKEN is set and at least ${MIN_ADMIN_TOKEN_BYTES} bytes long`);
    }
    if (isSet(token) && token === env.EDGE_SIGNING_KEY) {
      findings.errors.push("ADMIN_TOKEN and EDGE_SIGNING_KEY are the same secret; give each its own");
    }
    return findings.report("auth");
  },
};

const origin: ConfigSectionCheck = {
  name: "origin",
  check(context) {
    const { env } = context;
    const findings = new Findings();
    const deployed = env.ENVIRONMENT !== "development";
    let url: URL | undefined;
    try {
      url = isSet(env.ORIGIN_URL) ? new URL(env.ORIGIN_URL) : undefined;
    } catch {
      url = undefined;
    }
    if (!url) findings.errors.push("ORIGIN_URL is not set or not a URL");
    else if (deployed && url.protocol !== "https:")
      findings.errors.push("ORIGIN_URL is not https outside development");
    else if (PLACEHOLDER_HOST.test(url.hostname))
      findings.warnings.push("ORIGIN_URL's hostname is a placeholder");
    else findings.facts.push(`ORIGIN_URL is an ${url.protocol.slice(0, -1)} URL`);
    if (!isSet(env.EDGE_SIGNING_KEY)) findings.errors.push("EDGE_SIGNING_KEY is not set");
    else if (bytes(env.EDGE_SIGNING_KEY) < 32)
      findings.errors.push("EDGE_SIGNING_KEY is shorter than 32 bytes");
    else findings.facts.push("EDGE_SIGNING_KEY is set and at least 32 bytes long");
    const accessId = isSet(env.CF_ACCESS_CLIENT_ID);
    const accessSecret = isSet(env.CF_ACCESS_CLIENT_SECRET);
    if (accessId !== accessSecret) {
      findings.errors.push("only one of CF_ACCESS_CLIENT_ID and CF_ACCESS_CLIENT_SECRET is set");
    } else if (accessId) {
      findings.facts.push("the Access service token (CF_ACCESS_CLIENT_ID and _SECRET) is set");
    } else if (deployed && !env.ORIGIN_VPC) {
      findings.warnings.push(
        "no Access service token: the origin hostname is reachable without Cloudflare Access",
      );
    }
    if (env.ORIGIN_VPC) findings.facts.push("origin calls go through the ORIGIN_VPC binding");
    const credentials = flagOffFor(context, "credentials");
    if (credentials) findings.warnings.push(`credential routes are ${credentials}`);
    return findings.report("origin", flagOverridden(context, "credentials"));
  },
};

/**
 * A capability's section: its own validated variables (the capability's config function, whose
 * error names variables, never values), its bindings, and the flag that gates it.
 */
function capabilitySection(spec: {
  name: string;
  flag: FlagName;
  /** One fact from the validated configuration; throws (naming variables) when it is invalid. */
  summary(env: EdgeBindings): string;
  bindings: ReadonlyArray<[name: string, method: string, kind: string]>;
  /** What it means for owners that the flag is off or partly on. */
  whenOff(off: string): string;
}): ConfigSectionCheck {
  return {
    name: spec.name,
    check(context) {
      const findings = new Findings();
      try {
        findings.facts.push(spec.summary(context.env));
      } catch (error) {
        findings.errors.push(
          error instanceof Error ? error.message.replace(/^invalid \w+ configuration: /, "") : "invalid",
        );
      }
      findings.errors.push(...missingBindings(context.env, spec.bindings));
      const off = flagOffFor(context, spec.flag);
      if (off) findings.warnings.push(spec.whenOff(off));
      return findings.report(spec.name, flagOverridden(context, spec.flag));
    },
  };
}

const sessions = capabilitySection({
  name: "sessions",
  flag: "durableObjects",
  summary: (env) => `sessions expire after ${sessionsConfig(env).timeoutSeconds} s idle`,
  bindings: [
    ["SESSIONS", "idFromName", "Durable Object"],
    ["SESSIONS_KV", "get", "KV"],
    ["SESSION_BACKUPS", "put", "R2"],
  ],
  whenOff: (off) => `Durable Objects are ${off}: those owners use the KV fallback, without WebSockets`,
});

const documents = capabilitySection({
  name: "documents",
  flag: "r2Storage",
  summary(env) {
    const config = documentConfig(env);
    return `quota ${config.quotaBytes} bytes and ${config.quotaCount} documents per owner; uploads up to ${config.maxUploadBytes} bytes`;
  },
  bindings: [
    ["DOCUMENTS", "put", "R2"],
    ["DB", "prepare", "D1"],
    ["DOCUMENT_INDEX", "send", "Queue"],
  ],
  whenOff: (off) => `document routes are ${off}`,
});

const flags: ConfigSectionCheck = {
  name: "flags",
  check(context) {
    const findings = new Findings();
    findings.errors.push(...missingBindings(context.env, [["FLAGS", "get", "KV"]]));
    if (!context.flags) {
      findings.errors.push("the flags cannot be evaluated without a valid core configuration and FLAGS");
      return findings.report("flags");
    }
    const { warnings, facts } = flagFindings(context.flags);
    findings.warnings.push(...warnings);
    findings.facts.push(...facts);
    return findings.report(
      "flags",
      context.flags.some((flag) => flag.source === "kv"),
    );
  },
};

/** The exact per-owner limits (platform/rate-limit.ts) and the object that keeps them. */
const rateLimits: ConfigSectionCheck = {
  name: "rateLimits",
  check({ env }) {
    const findings = new Findings();
    findings.errors.push(...missingBindings(env, [["RATE_LIMITER", "idFromName", "Durable Object"]]));
    const parsed = EdgeConfigSchema.safeParse(env);
    if (!parsed.success) {
      findings.errors.push("the limits cannot be read without a valid core configuration");
      return findings.report("rateLimits");
    }
    const config = parsed.data;
    findings.facts.push(
      `per minute: credentials ${config.RATE_LIMIT_CREDENTIALS_PER_MINUTE}, sessions ${config.RATE_LIMIT_SESSIONS_PER_MINUTE}, ` +
        `documents ${config.RATE_LIMIT_DOCUMENTS_PER_MINUTE}, admin ${config.RATE_LIMIT_ADMIN_PER_MINUTE}, other ${config.RATE_LIMIT_OTHER_PER_MINUTE}`,
    );
    if (config.RATE_LIMIT_EXEMPT_OWNERS.length > 0) {
      findings.warnings.push(
        `${config.RATE_LIMIT_EXEMPT_OWNERS.length} owner(s) exempt from the rate limits`,
      );
    }
    return findings.report("rateLimits");
  },
};

/** Which browser origins may call the API (platform/cors.ts). */
const cors: ConfigSectionCheck = {
  name: "cors",
  check({ env }) {
    const findings = new Findings();
    const parsed = EdgeConfigSchema.safeParse(env);
    if (!parsed.success) {
      findings.errors.push("the CORS origins cannot be read without a valid core configuration");
      return findings.report("cors");
    }
    const origins = parsed.data.CORS_ORIGINS;
    if (origins.includes("*")) findings.warnings.push("CORS_ORIGINS is *: any origin, without credentials");
    else if (origins.length === 0)
      findings.facts.push("no browser origin is allowed (CORS_ORIGINS is empty)");
    else findings.facts.push(`${origins.length} browser origin(s) allowed`);
    for (const origin of origins) {
      if (origin.startsWith("http:") && parsed.data.ENVIRONMENT !== "development") {
        findings.warnings.push(`${origin} is not https`);
      }
    }
    return findings.report("cors");
  },
};

/**
 * The sections, in report order. A new part of the edge adds its own here (one entry: a name and a
 * check over the same context).
 */
export const CONFIG_SECTIONS: ConfigSectionCheck[] = [
  core,
  auth,
  origin,
  sessions,
  documents,
  flags,
  rateLimits,
  cors,
];

export async function configReport(
  env: EdgeBindings,
  sections: readonly ConfigSectionCheck[] = CONFIG_SECTIONS,
): Promise<ConfigReport> {
  const coreValid = EdgeConfigSchema.safeParse(env).success;
  const context: ConfigCheckContext = {
    env,
    flags: coreValid && env.FLAGS ? await FlagStore.fromEnv(env).all() : undefined,
  };
  const reports = await Promise.all(sections.map((section) => section.check(context)));
  const count = (status: SectionStatus) => reports.filter((report) => report.status === status).length;
  return {
    sections: reports,
    totals: {
      total: reports.length,
      valid: count("Valid"),
      invalid: count("Invalid"),
      warnings: count("Warning"),
    },
  };
}
