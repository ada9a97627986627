import { z } from "zod";
import type { EdgeBindings } from "../env.ts";

const SessionsConfigSchema = z.object({
  SESSION_TIMEOUT: z.coerce
    .number()
    .int()
    .min(60)
    .max(30 * 24 * 3600)
    .default(3600),
  ENABLE_DURABLE_OBJECTS: z.enum(["true", "false"]).default("true"),
});

export interface SessionsConfig {
  timeoutSeconds: number;
  durableObjects: boolean;
}

/** Read at the boundary; a bad value is an operator's mistake and fails loudly, naming the variable. */
export function sessionsConfig(
  env: Pick<EdgeBindings, "SESSION_TIMEOUT" | "ENABLE_DURABLE_OBJECTS">,
): SessionsConfig {
  const parsed = SessionsConfigSchema.safeParse({
    SESSION_TIMEOUT: env.SESSION_TIMEOUT || undefined,
    ENABLE_DURABLE_OBJECTS: env.ENABLE_DURABLE_OBJECTS || undefined,
  });
  if (!parsed.success) {
    const names = parsed.error.issues.map((issue) => issue.path.join(".")).join(", ");
    throw new Error(`invalid sessions configuration: ${names}`);
  }
  return {
    timeoutSeconds: parsed.data.SESSION_TIMEOUT,
    durableObjects: parsed.data.ENABLE_DURABLE_OBJECTS === "true",
  };
}
