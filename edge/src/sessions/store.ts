import { ProblemError } from "@chittyconnect/contract";
import type { Context } from "hono";
import type { AppEnv, EdgeBindings } from "../env.ts";
import { FlagStore } from "../flags/store.ts";
import type { SessionBackend } from "./backend.ts";
import { sessionsConfig } from "./config.ts";
import { kvSessionStore, readSnapshot, snapshotReader } from "./kv-store.ts";
import type { Result } from "./result.ts";
import { unwrap } from "./result.ts";

/** Set on reads answered from the KV snapshot because the owner's object could not be reached. */
export const FALLBACK_HEADER = "x-sessions-source";
export const SNAPSHOT_AT_HEADER = "x-sessions-snapshot-at";

type Operation<T> = (backend: SessionBackend) => Promise<Result<T>>;

/** The owner's Durable Object; its RPC methods are the SessionBackend the object implements. */
export function durableBackend(env: EdgeBindings, owner: string): SessionBackend {
  return env.SESSIONS.get(env.SESSIONS.idFromName(owner));
}

/**
 * Whether the owner's sessions live in its Durable Object: the `durableObjects` feature flag
 * (default from `FEATURE_FLAGS` or `ENABLE_DURABLE_OBJECTS`, overridable per owner in KV). Off,
 * they live in the KV store, with no WebSockets.
 */
export function durableObjectsFor(env: EdgeBindings, owner: string): Promise<boolean> {
  return FlagStore.fromEnv(env).isOn("durableObjects", owner);
}

/**
 * Where an owner's sessions live, given its `durableObjects` flag. Synchronous on purpose: an
 * object stub is never the result of an async function, whose caller would probe it for `then`.
 */
export function sessionBackend(env: EdgeBindings, owner: string, durableObjects: boolean): SessionBackend {
  return durableObjects
    ? durableBackend(env, owner)
    : kvSessionStore(env.SESSIONS_KV, sessionsConfig(env).timeoutSeconds);
}

function unavailable(): ProblemError {
  return new ProblemError({
    status: 503,
    code: "sessions_unavailable",
    title: "Service unavailable",
    detail: "The sessions store could not be reached; try again shortly.",
    headers: { "retry-after": "5" },
  });
}

function logFailure(c: Context<AppEnv>, what: string, error: unknown): void {
  console.error(
    JSON.stringify({
      level: "error",
      msg: what,
      requestId: c.get("requestId"),
      error: error instanceof Error ? error.name : typeof error,
    }),
  );
}

/** The store's answer for the owner (the caller unless given), or 503 when it cannot be reached. */
export async function callStore<T>(
  c: Context<AppEnv>,
  operation: Operation<T>,
  owner = c.get("auth").owner,
): Promise<Result<T>> {
  try {
    const durableObjects = await durableObjectsFor(c.env, owner);
    return await operation(sessionBackend(c.env, owner, durableObjects));
  } catch (error) {
    logFailure(c, "sessions write failed", error);
    throw unavailable();
  }
}

/**
 * A read. With Durable Objects on, an object that cannot be reached is answered from the owner's
 * last KV snapshot (up to a few seconds old), and the response says so in `x-sessions-source`.
 */
export async function readWithFallback<T>(
  c: Context<AppEnv>,
  operation: Operation<T>,
): Promise<{ value: T; headers: Record<string, string> }> {
  const owner = c.get("auth").owner;
  if (!(await durableObjectsFor(c.env, owner))) {
    return { value: unwrap(await callStore(c, operation)), headers: {} };
  }
  let result: Result<T>;
  try {
    result = await operation(durableBackend(c.env, owner));
  } catch (error) {
    logFailure(c, "sessions object unreachable; reading the KV snapshot", error);
    const snapshot = await readSnapshot(c.env.SESSIONS_KV, owner).catch(() => undefined);
    if (!snapshot) throw unavailable();
    const value = unwrap(await operation(snapshotReader(snapshot, sessionsConfig(c.env).timeoutSeconds)));
    return {
      value,
      headers: { [FALLBACK_HEADER]: "kv-snapshot", [SNAPSHOT_AT_HEADER]: snapshot.exportedAt },
    };
  }
  return { value: unwrap(result), headers: {} };
}
