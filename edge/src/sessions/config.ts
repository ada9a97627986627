import { z } from "zod";
import type { EdgeBindings } from "../env.ts";

export const SessionsConfigSchema = z.object({
  SESSION_TIMEOUT: z.coerce
    .number()
    .int()
    .min(60)
    .max(30 * 24 * 3600)
    .default(3600),
});

export interface SessionsConfig {
  timeoutSeconds: number;
}

/** Read at the boundary; a bad value is an operator's mistake and fails loudly, naming the variable. */
export function sessionsConfig(env: Pick<EdgeBindings, "SESSION_TIMEOUT">): SessionsConfig {
  const parsed = SessionsConfigSchema.safeParse({ SESSION_TIMEOUT: env.SESSION_TIMEOUT || undefined });
  if (!parsed.success) {
    const names = parsed.error.issues.map((issue) => issue.path.join(".")).join(", ");
    throw new Error(`invalid sessions configuration: ${names}`);
  }
  return { timeoutSeconds: parsed.data.SESSION_TIMEOUT };
}
