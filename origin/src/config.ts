import { readFileSync } from "node:fs";
import { isIPv4, isIPv6 } from "node:net";
import { commaList, OwnerIdSchema } from "@chittyconnect/contract";
import { z } from "zod";

/**
 * The origin's secret variables. Each can instead be given as `<NAME>_FILE`, the path of a file
 * holding the value (compose secrets in /run/secrets/); the plain form stays for local use.
 * Add a new secret here and it gets the `_FILE` form, check:deploy's file checks and redaction.
 */
export const SECRET_VARIABLES = [
  "OP_CONNECT_TOKEN",
  "EDGE_SIGNING_KEY",
  "EDGE_SIGNING_KEY_PREVIOUS",
  "AUDIT_HMAC_KEY",
  "AUDIT_CHAIN_KEY",
] as const;

export const MAX_SECRET_FILE_BYTES = 65_536;

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
    /**
     * How far the edge's clock may run ahead of this host's. For this long after start the origin
     * refuses signatures (503 origin_starting): its predecessor may have accepted them.
     */
    CLOCK_SKEW_MS: z.coerce.number().int().min(0).max(30_000).default(1000),
    /** Shared nonce store (Redis or Valkey) for two or more replicas; in memory when unset. */
    REDIS_URL: z
      .url({ protocol: /^rediss?$/, error: "REDIS_URL must be a redis:// or rediss:// URL" })
      .optional()
      .or(z.literal("").transform(() => undefined)),
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
    /** SQLite file of Idempotency-Keys (hashes and versions only); default: beside the audit log. */
    IDEMPOTENCY_DB_FILE: z.string().optional(),
    /** How long a key replays its first result; the issue's contract is 24 h. */
    IDEMPOTENCY_TTL_SECONDS: z.coerce.number().int().min(60).max(604_800).default(86_400),
    /** Bound on remembered keys; when full (after pruning expired ones) keyed requests get 503. */
    IDEMPOTENCY_MAX_KEYS: z.coerce.number().int().min(100).max(10_000_000).default(100_000),
    /**
     * Peers allowed to open a connection, comma-separated IPs or CIDRs; others are cut off before
     * a byte is read. Unset: anyone who can reach HOST:PORT. Compose sets nginx's network.
     */
    ALLOWED_PEERS: z
      .string()
      .optional()
      .transform((text, ctx) => {
        const entries = commaList(text);
        const bad = entries.filter((entry) => parsePeer(entry) === undefined);
        if (bad.length > 0) {
          ctx.addIssue({
            code: "custom",
            message: `ALLOWED_PEERS must list IPs or CIDRs, got ${bad.map((entry) => JSON.stringify(entry)).join(", ")}`,
          });
          return z.NEVER;
        }
        return entries.length === 0 ? undefined : entries;
      }),
    /** Echoed in `x-instance-id` on /healthz and /readyz so a supervisor can tell this process from another on the port. */
    INSTANCE_ID: z.string().min(1).max(200).optional(),
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

export interface PeerRange {
  address: string;
  prefix: number;
  family: "ipv4" | "ipv6";
}

/** `10.0.0.1` or `172.30.54.0/24` (IPv6 alike); undefined when it is neither. */
export function parsePeer(entry: string): PeerRange | undefined {
  const [address = "", bits, ...rest] = entry.split("/");
  const family = isIPv4(address) ? "ipv4" : isIPv6(address) ? "ipv6" : undefined;
  if (family === undefined || rest.length > 0) return undefined;
  const max = family === "ipv4" ? 32 : 128;
  if (bits === undefined) return { address, prefix: max, family };
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) return undefined;
  return { address, prefix: Number(bits), family };
}

export type SecretFileReader = (path: string) => string;

/** Reads a secret file: at most MAX_SECRET_FILE_BYTES, one trailing newline dropped (`echo` adds it). */
export function readSecretFile(path: string): string {
  const bytes = readFileSync(path);
  if (bytes.byteLength > MAX_SECRET_FILE_BYTES) throw new Error(`larger than ${MAX_SECRET_FILE_BYTES} bytes`);
  return bytes.toString("utf8").replace(/\r?\n$/, "");
}

/**
 * Replaces each `<NAME>_FILE` of SECRET_VARIABLES by `<NAME>` holding the file's content. Problems
 * name the variable and the path, never a value; the error text is the system's (ENOENT, EACCES).
 */
export function resolveSecretFiles(
  env: Record<string, string | undefined>,
  read: SecretFileReader = readSecretFile,
): { env: Record<string, string | undefined>; problems: string[] } {
  const resolved = { ...env };
  const problems: string[] = [];
  for (const name of SECRET_VARIABLES) {
    const fileVariable = `${name}_FILE`;
    const path = env[fileVariable];
    delete resolved[fileVariable];
    if (path === undefined || path === "") continue;
    if (env[name] !== undefined && env[name] !== "") {
      problems.push(`${name}: set ${name} or ${fileVariable}, not both`);
      continue;
    }
    try {
      resolved[name] = read(path);
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      problems.push(`${fileVariable}: cannot read ${path}: ${reason}`);
    }
  }
  return { env: resolved, problems };
}

/**
 * Parses an environment, secrets from `*_FILE` first; the message names every missing or
 * malformed variable, one per line.
 */
export function parseOriginConfig(
  env: Record<string, string | undefined>,
  read: SecretFileReader = readSecretFile,
): ConfigResult {
  const files = resolveSecretFiles(env, read);
  const result = OriginEnvSchema.safeParse(files.env);
  const lines = files.problems.map((problem) => `  - ${problem}`);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const name = issue.path.join(".") || "(environment)";
      // A variable whose file failed is already named; its "is required" would only repeat it.
      if (files.problems.some((problem) => problem.startsWith(`${name}_FILE:`))) continue;
      lines.push(`  - ${name}: ${issue.message}`);
    }
  }
  if (result.success && lines.length === 0) return { ok: true, config: result.data };
  return { ok: false, message: `Invalid origin configuration:\n${lines.join("\n")}` };
}
