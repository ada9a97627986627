import { z } from "zod";
import type { EdgeBindings } from "../env.ts";
import type { FlagSetting } from "../flags/definitions.ts";
import { FlagStore } from "../flags/store.ts";

export const SessionsCheckSchema = z.object({
  ok: z.boolean(),
  binding: z.enum(["SESSIONS", "SESSIONS_KV"]),
  /** per_owner: the durableObjects flag is on for some owners (rollout or allowedOwners) only. */
  mode: z.enum(["durable_objects", "kv_fallback", "per_owner"]),
  latencyMs: z.number(),
});
export type SessionsCheck = z.infer<typeof SessionsCheckSchema>;

function sessionsMode(setting: FlagSetting): SessionsCheck["mode"] {
  if (!setting.enabled || (setting.rolloutPercentage === 0 && setting.allowedOwners.length === 0)) {
    return "kv_fallback";
  }
  return setting.rolloutPercentage >= 100 ? "durable_objects" : "per_owner";
}

/**
 * The `sessions` entry of /api/v1/status: a round trip to a probe object, or to KV when the
 * durableObjects flag is off for every owner.
 */
export async function checkSessions(env: EdgeBindings): Promise<SessionsCheck> {
  const mode = sessionsMode((await FlagStore.fromEnv(env).effective("durableObjects")).setting);
  const durableObjects = mode !== "kv_fallback";
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
    mode,
    latencyMs: Math.round(performance.now() - started),
  };
}
