import { z } from "zod";
import type { EdgeBindings } from "../env.ts";
import { sessionsConfig } from "./config.ts";

export const SessionsCheckSchema = z.object({
  ok: z.boolean(),
  binding: z.enum(["SESSIONS", "SESSIONS_KV"]),
  mode: z.enum(["durable_objects", "kv_fallback"]),
  latencyMs: z.number(),
});
export type SessionsCheck = z.infer<typeof SessionsCheckSchema>;

/** The `sessions` entry of /api/v1/status: a round trip to a probe object, or to KV when the flag is off. */
export async function checkSessions(env: EdgeBindings): Promise<SessionsCheck> {
  const { durableObjects } = sessionsConfig(env);
  const started = performance.now();
  let ok = false;
  try {
    if (durableObjects) {
      ok = await env.SESSIONS.get(env.SESSIONS.idFromName("status-probe")).ping();
    } else {
      await env.SESSIONS_KV.get("status-probe");
      ok = true;
    }
  } catch {
    ok = false;
  }
  return {
    ok,
    binding: durableObjects ? "SESSIONS" : "SESSIONS_KV",
    mode: durableObjects ? "durable_objects" : "kv_fallback",
    latencyMs: Math.round(performance.now() - started),
  };
}
