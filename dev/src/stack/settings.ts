import { resolve } from "node:path";
import { z } from "zod";

/** What the local stack can be told from the environment; everything has a working default. */
const port = (fallback: number) => z.coerce.number().int().min(1).max(65535).default(fallback);

export const StackEnvSchema = z.object({
  EDGE_PORT: port(8787),
  ORIGIN_PORT: port(8090),
  CONNECT_PORT: port(8080),
  NGINX_PORT: port(8088),
  /** Origin processes behind nginx (ports ORIGIN_PORT, ORIGIN_PORT+1, …); above 1 they share redis-server. */
  ORIGIN_REPLICAS: z.coerce.number().int().min(1).max(4).default(1),
  REDIS_PORT: port(6390),
  /** Overrides the generated admin token, so scripts can drive the stack. */
  ADMIN_TOKEN: z.string().min(16, "ADMIN_TOKEN must be at least 16 characters").optional(),
  /** The owner the banner's token is minted for. */
  STACK_OWNER: z.string().default("01-C-DEV-0001-P-2601-A-1"),
  /** Where keys, the audit log and the edge's local D1/KV data live between runs. */
  STACK_STATE_DIR: z.string().default(".local"),
  /** `off` runs the edge straight against the origin even when nginx is installed. */
  STACK_NGINX: z.enum(["auto", "off"]).default("auto"),
  LOG_LEVEL: z.string().default("info"),
  /**
   * Sets the edge's per-minute limit of every route class at once (the edge validates it); the
   * benchmarks and load tests raise it so the limiter never refuses what they measure.
   */
  RATE_LIMIT_PER_MINUTE: z
    .string()
    .regex(/^\d{1,6}$/, "RATE_LIMIT_PER_MINUTE must be a whole number")
    .optional(),
  /** Passed to the edge as is: owners its limiter skips (development only; see the README). */
  RATE_LIMIT_EXEMPT_OWNERS: z.string().optional(),
});

export type StackSettings = z.infer<typeof StackEnvSchema> & { repoRoot: string; stateDir: string };

export function readStackSettings(env: Record<string, string | undefined>, repoRoot: string): StackSettings {
  const result = StackEnvSchema.safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  - ${i.path.join(".")}: ${i.message}`);
    throw new Error(`Invalid local stack settings:\n${lines.join("\n")}`);
  }
  return { ...result.data, repoRoot, stateDir: resolve(repoRoot, result.data.STACK_STATE_DIR) };
}

const ROUTE_CLASSES = ["CREDENTIALS", "SESSIONS", "DOCUMENTS", "ADMIN", "OTHER"] as const;

/** `wrangler dev --var` arguments for the rate-limit settings that are set. */
export function edgeRateLimitVars(settings: StackSettings): string[] {
  const vars: string[] = [];
  if (settings.RATE_LIMIT_PER_MINUTE !== undefined) {
    for (const cls of ROUTE_CLASSES)
      vars.push("--var", `RATE_LIMIT_${cls}_PER_MINUTE:${settings.RATE_LIMIT_PER_MINUTE}`);
  }
  if (settings.RATE_LIMIT_EXEMPT_OWNERS !== undefined) {
    vars.push("--var", `RATE_LIMIT_EXEMPT_OWNERS:${settings.RATE_LIMIT_EXEMPT_OWNERS}`);
  }
  return vars;
}
