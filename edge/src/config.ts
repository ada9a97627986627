import { ProblemError } from "@chittyconnect/contract";
import { z } from "zod";

/**
 * The edge's configuration (wrangler vars and secrets), validated once per environment object.
 * A bad value is an error naming the variable, at the first request and in check:deploy; it never
 * falls back to a default. An absent optional variable takes its documented default.
 */
const bytes = (value: string) => new TextEncoder().encode(value).byteLength;

export const ORIGIN_TIMEOUT_DEFAULT_MS = 10_000;
export const ORIGIN_TIMEOUT_MAX_MS = 60_000;

/** What wrangler.jsonc's `vars` hold; check:deploy validates each deploy environment with it. */
export const EdgeVarsSchema = z.object({
  ORIGIN_URL: z.url({
    protocol: /^https?$/,
    error: "ORIGIN_URL must be an http(s) URL (the tunnel hostname in staging and production)",
  }),
  ORIGIN_TIMEOUT_MS: z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined) return ORIGIN_TIMEOUT_DEFAULT_MS;
      const value = /^\d{1,6}$/.test(text) ? Number(text) : Number.NaN;
      if (!(value >= 1 && value <= ORIGIN_TIMEOUT_MAX_MS)) {
        ctx.addIssue({
          code: "custom",
          message: `ORIGIN_TIMEOUT_MS must be an integer from 1 to ${ORIGIN_TIMEOUT_MAX_MS} (milliseconds)`,
        });
        return z.NEVER;
      }
      return value;
    }),
});

export const EdgeConfigSchema = EdgeVarsSchema.extend({
  ADMIN_TOKEN: z
    .string({ error: "ADMIN_TOKEN is required (wrangler secret put ADMIN_TOKEN)" })
    .refine((value) => bytes(value) >= 16, { message: "ADMIN_TOKEN must be at least 16 bytes" }),
  EDGE_SIGNING_KEY: z
    .string({ error: "EDGE_SIGNING_KEY is required (wrangler secret put EDGE_SIGNING_KEY)" })
    .refine((value) => bytes(value) >= 32, { message: "EDGE_SIGNING_KEY must be at least 32 bytes" }),
  CF_ACCESS_CLIENT_ID: z.string().optional(),
  CF_ACCESS_CLIENT_SECRET: z.string().optional(),
}).refine((config) => Boolean(config.CF_ACCESS_CLIENT_ID) === Boolean(config.CF_ACCESS_CLIENT_SECRET), {
  path: ["CF_ACCESS_CLIENT_SECRET"],
  message: "CF_ACCESS_CLIENT_ID and CF_ACCESS_CLIENT_SECRET must be set together (or neither)",
  // Checked even when other variables are wrong, so one answer names every problem.
  when: () => true,
});

export type EdgeConfig = z.infer<typeof EdgeConfigSchema>;

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
