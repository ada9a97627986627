import { env, runInDurableObject } from "cloudflare:test";
import { expect } from "vitest";
import type { SessionEvent } from "../src/sessions/schemas.ts";
import { bearer, call, jsonInit, mintToken, uniqueOwner } from "./helpers.ts";

export const RW = ["sessions:read", "sessions:write"];

/** A fresh owner with a read/write token, and shorthands for its requests. */
export async function newOwner(scopes: string[] = RW) {
  const owner = uniqueOwner("sess");
  const minted = await mintToken(owner, scopes);
  const auth = bearer(minted.token);
  return {
    owner,
    token: minted.token,
    tokenId: minted.id,
    get: (path: string, headers: Record<string, string> = {}) =>
      call(path, { headers: { ...auth, ...headers } }),
    send: (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
      call(
        path,
        body === undefined
          ? { method, headers: { ...auth, ...headers } }
          : jsonInit(method, body, { ...auth, ...headers }),
      ),
  };
}

export type Owner = Awaited<ReturnType<typeof newOwner>>;

export function stubOf(owner: string) {
  return env.SESSIONS.get(env.SESSIONS.idFromName(owner));
}

export async function expectProblem(response: Response, status: number, code: string) {
  const text = await response.text();
  expect(response.status, text).toBe(status);
  expect(response.headers.get("content-type")).toContain("application/problem+json");
  const problem = JSON.parse(text) as { code: string; requestId?: string; detail?: string };
  expect(problem.code).toBe(code);
  expect(problem.requestId).toBeTruthy();
  return problem;
}

export async function json<T>(response: Response, status: number): Promise<T> {
  const text = await response.text();
  expect(response.status, text).toBe(status);
  return JSON.parse(text) as T;
}

/** A client WebSocket that records every event and every close. */
export interface TestSocket {
  ws: WebSocket;
  events: SessionEvent[];
  closed: Promise<{ code: number; reason: string }>;
  /** Resolves with the first recorded event matching, waiting for it if needed. */
  next(match: (event: SessionEvent) => boolean, timeoutMs?: number): Promise<SessionEvent>;
}

export async function openSocket(query: string, headers: Record<string, string>): Promise<TestSocket> {
  const response = await call(`/api/v1/sessions/ws${query}`, {
    headers: { upgrade: "websocket", ...headers },
  });
  if (response.status !== 101 || !response.webSocket) {
    throw new Error(`expected 101, got ${response.status}: ${await response.text()}`);
  }
  const ws = response.webSocket;
  const events: SessionEvent[] = [];
  const waiters: (() => void)[] = [];
  ws.accept();
  ws.addEventListener("message", (event) => {
    if (typeof event.data === "string" && event.data !== "pong")
      events.push(JSON.parse(event.data) as SessionEvent);
    for (const wake of waiters.splice(0)) wake();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.addEventListener("close", (event) => resolve({ code: event.code, reason: event.reason })),
  );
  return {
    ws,
    events,
    closed,
    async next(match, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = events.find(match);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no matching event; got ${JSON.stringify(events)}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 50);
        });
      }
    },
  };
}

/**
 * Marks the object's deadlines (`snapshot_due`, `token_check_due`) as passed, keeping its alarm in
 * the future so that `runDurableObjectAlarm`, not the clock, decides when the alarm runs.
 */
export async function makeDue(owner: string, keys: string[]) {
  await runInDurableObject(stubOf(owner), async (_instance, state) => {
    for (const key of keys) {
      state.storage.sql.exec("INSERT OR REPLACE INTO meta (key, value) VALUES (?, '0')", key);
    }
    await state.storage.setAlarm(Date.now() + 60_000);
  });
}
