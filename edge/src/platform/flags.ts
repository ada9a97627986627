import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env.ts";
import type { FlagName } from "../flags/definitions.ts";
import { featureDisabled } from "../flags/problems.ts";
import { FlagStore } from "../flags/store.ts";
import { type RouteClass, routeClass } from "./route-class.ts";

/**
 * Which flag gates which route class, and what that capability is called in the 503. Sessions are
 * not here: with `durableObjects` off an owner's sessions move to the KV store (sessions/store.ts),
 * and only its WebSockets answer 503 `websockets_disabled`. `msgpack` is applied by the MessagePack
 * middleware.
 */
const GATES: Partial<Record<RouteClass, { flag: FlagName; capability: string }>> = {
  credentials: { flag: "credentials", capability: "Credential provisioning" },
  documents: { flag: "r2Storage", capability: "Document storage" },
};

/** The flag that gates a path's capability, if any (the OpenAPI document lists its 503). */
export function gateOf(pathname: string): { flag: FlagName; capability: string } | undefined {
  return GATES[routeClass(pathname)];
}

/** For authenticated routes (after bearer auth): 503 `feature_disabled` when the owner's flag is off. */
export const featureFlags = createMiddleware<AppEnv>(async (c, next) => {
  const gate = gateOf(new URL(c.req.url).pathname);
  if (gate && !(await FlagStore.fromEnv(c.env).isOn(gate.flag, c.get("auth").owner))) {
    throw featureDisabled(gate.flag, gate.capability);
  }
  await next();
});
