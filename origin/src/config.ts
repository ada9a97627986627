import { OwnerIdSchema } from "@chittyconnect/contract";
import { z } from "zod";

/**
 * The origin's whole configuration, read once from the environment at start-up. Nothing else in
 * the origin reads process.env.
 */
const secret = (name: string, minBytes: number) =>
  z
    .string({ error: `${name} is required` })
    .refine((value) => new TextEncoder().encode(value).byteLength >= minBytes, {
      message: `${name} must be at least ${minBytes} bytes`,
    });

const optionalUrl = z
  .url()
  .optional()
  .or(z.literal("").transform(() => undefined));

export const OriginEnvSchema = z
  .object({
    HOST: z.string().default("0.0.0.0"),
    PORT: z.coerce.number().int().min(0).max(65535).default(8090),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    OP_CONNECT_HOST: z.url({ error: "OP_CONNECT_HOST must be a URL such as http://connect-api:8080" }),
    OP_CONNECT_TOKEN: z.string({ error: "OP_CONNECT_TOKEN is required" }).min(1),
    /** Shared with the edge; see contract/src/signing.ts. */
    EDGE_SIGNING_KEY: secret("EDGE_SIGNING_KEY", 32),
    /** The key being rotated out; accepted for verification only. */
    EDGE_SIGNING_KEY_PREVIOUS: secret("EDGE_SIGNING_KEY_PREVIOUS", 32)
      .optional()
      .or(z.literal("").transform(() => undefined)),
    SIGNATURE_WINDOW_SECONDS: z.coerce.number().int().min(5).max(600).default(60),
    /** When both are set, every request must also carry a valid Cloudflare Access JWT. */
    ACCESS_JWKS_URL: optionalUrl,
    ACCESS_AUDIENCE: z.string().optional(),
    ACCESS_ISSUER: z.string().optional(),
    POLICY_FILE: z.string().min(1).default("policy.yaml"),
    AUDIT_LOG_FILE: z.string().min(1).default("audit/audit.log"),
    /** Keys the HMAC that audit lines carry instead of the secret value. */
    AUDIT_HMAC_KEY: secret("AUDIT_HMAC_KEY", 32),
    /** Keys the audit chain's MACs: without it a line cannot be rewritten undetected. */
    AUDIT_CHAIN_KEY: secret("AUDIT_CHAIN_KEY", 32),
    /** Pins this origin's chain instance (one per replica); generated with a new log when unset. */
    AUDIT_INSTANCE_ID: OwnerIdSchema.optional().or(z.literal("").transform(() => undefined)),
    AUDIT_SEGMENT_BYTES: z.coerce.number().int().min(4096).max(1_073_741_824).default(67_108_864),
    /** New work is refused (503) while the audit volume has less free space than this. */
    AUDIT_DISK_RESERVE_BYTES: z.coerce.number().int().min(0).default(67_108_864),
    /** The edge's public URL: the origin anchors its audit chain head there. Unset: no anchoring. */
    EDGE_URL: optionalUrl,
    AUDIT_ANCHOR_INTERVAL_SECONDS: z.coerce.number().int().min(1).max(60).default(60),
    AUDIT_ANCHOR_EVERY: z.coerce.number().int().min(1).max(1_000_000).default(1000),
    TITLE_CACHE_TTL_SECONDS: z.coerce.number().int().min(0).max(3600).default(30),
    LEASE_TTL_SECONDS: z.coerce.number().int().min(30).max(86_400).default(900),
    CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5000),
    MAX_BODY_BYTES: z.coerce.number().int().min(1024).max(1_048_576).default(65_536),
  })
  .superRefine((env, ctx) => {
    if (Boolean(env.ACCESS_JWKS_URL) !== Boolean(env.ACCESS_AUDIENCE)) {
      ctx.addIssue({
        code: "custom",
        path: ["ACCESS_AUDIENCE"],
        message: "ACCESS_JWKS_URL and ACCESS_AUDIENCE must be set together (or neither)",
      });
    }
  });

export type OriginConfig = z.infer<typeof OriginEnvSchema>;

export type ConfigResult = { ok: true; config: OriginConfig } | { ok: false; message: string };

/** Parses an environment; the message names every missing or malformed variable, one per line. */
export function parseOriginConfig(env: Record<string, string | undefined>): ConfigResult {
  const result = OriginEnvSchema.safeParse(env);
  if (result.success) return { ok: true, config: result.data };
  const lines = result.error.issues.map((issue) => {
    const name = issue.path.join(".") || "(environment)";
    return `  - ${name}: ${issue.message}`;
  });
  return { ok: false, message: `Invalid origin configuration:\n${lines.join("\n")}` };
}
