import { ProblemError } from "@chittyconnect/contract";
import type { Context, Next } from "hono";
import { createMiddleware } from "hono/factory";
import { type EdgeConfig, edgeConfig } from "../config.ts";
import type { AppEnv, EdgeBindings } from "../env.ts";
import { type RateLimiterDO, WINDOW_MS } from "./rate-limiter-do.ts";
import { type RouteClass, routeClass } from "./route-class.ts";
import type { Decision } from "./sliding-window.ts";

/** Without Cloudflare in front (wrangler dev, tests) every caller shares this address. */
export const LOCAL_CLIENT = "local";
const MAX_ADDRESS_LENGTH = 64;
const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

/**
 * Paths served without a bearer token (health and docs, admin before its own check, presigned
 * document URLs, the WebSocket upgrade with a ticket, the origin's signed anchor reports): limited per
 * client address. Every other route is limited per owner once bearer auth has named it.
 */
const CLIENT_KEYED: ReadonlyArray<readonly [string, "exact" | "prefix"]> = [
  ["/health", "exact"],
  ["/api/v1/status", "exact"],
  ["/api/v1/openapi.json", "exact"],
  ["/api/v1/sessions/ws", "exact"],
  ["/api/v1/admin", "prefix"],
  ["/api/v1/documents/presigned", "prefix"],
  ["/api/v1/internal", "prefix"],
];

export function clientKeyed(pathname: string): boolean {
  return CLIENT_KEYED.some(([path, match]) =>
    match === "exact" ? pathname === path : pathname === path || pathname.startsWith(`${path}/`),
  );
}

export function limitFor(config: EdgeConfig, cls: RouteClass): number {
  switch (cls) {
    case "credentials":
      return config.RATE_LIMIT_CREDENTIALS_PER_MINUTE;
    case "sessions":
      return config.RATE_LIMIT_SESSIONS_PER_MINUTE;
    case "documents":
      return config.RATE_LIMIT_DOCUMENTS_PER_MINUTE;
    case "admin":
      return config.RATE_LIMIT_ADMIN_PER_MINUTE;
    case "other":
      return config.RATE_LIMIT_OTHER_PER_MINUTE;
  }
}

/** The object that counts for `key` (`owner:<owner>` or `ip:<address>`). */
export function limiterStub(env: EdgeBindings, key: string): DurableObjectStub<RateLimiterDO> {
  return env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(key));
}

export const ownerKey = (owner: string) => `owner:${owner}`;

/** The IETF httpapi draft's fields (draft-ietf-httpapi-ratelimit-headers-07), on every limited answer. */
export function rateLimitHeaders(decision: Decision): Record<string, string> {
  return {
    "ratelimit-limit": String(decision.limit),
    "ratelimit-remaining": String(decision.remaining),
    "ratelimit-reset": String(Math.ceil(decision.resetMs / 1000)),
    "ratelimit-policy": `${decision.limit};w=${WINDOW_MS / 1000}`,
  };
}

function rateLimited(decision: Decision, cls: RouteClass, per: string): ProblemError {
  const retryAfter = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
  return new ProblemError({
    status: 429,
    code: "rate_limited",
    title: "Too many requests",
    detail: `At most ${decision.limit} ${cls} requests a minute are allowed per ${per}; retry after ${retryAfter} s.`,
    headers: { ...rateLimitHeaders(decision), "retry-after": String(retryAfter) },
  });
}

/**
 * Credential routes fail closed when the limiter cannot answer: they reach 1Password, and an
 * unlimited burst there is worse than a short outage. Every other class fails open (and logs), so
 * a limiter fault never takes sessions or documents down.
 */
const FAIL_CLOSED: ReadonlySet<RouteClass> = new Set(["credentials"]);

async function enforce(c: Context<AppEnv>, next: Next, key: string, per: string): Promise<void> {
  const cls = routeClass(new URL(c.req.url).pathname);
  const limit = limitFor(edgeConfig(c.env), cls);
  let decision: Decision;
  try {
    decision = await limiterStub(c.env, key).take(cls, limit);
  } catch (error) {
    console.warn(
      JSON.stringify({
        level: "warn",
        msg: "rate limiter unavailable",
        requestId: c.get("requestId"),
        routeClass: cls,
        failClosed: FAIL_CLOSED.has(cls),
        error: error instanceof Error ? error.name : typeof error,
      }),
    );
    if (FAIL_CLOSED.has(cls)) {
      throw new ProblemError({
        status: 503,
        code: "rate_limiter_unavailable",
        title: "Service unavailable",
        detail: "The rate limiter did not answer, so no credential request is served; retry shortly.",
        headers: { "retry-after": String(UNAVAILABLE_RETRY_AFTER_SECONDS) },
      });
    }
    await next();
    return;
  }
  if (!decision.allowed) throw rateLimited(decision, cls, per);
  await next();
  for (const [name, value] of Object.entries(rateLimitHeaders(decision))) c.res.headers.set(name, value);
}

/** After bearer auth: one exact limit per owner and route class. */
export const ownerRateLimit = createMiddleware<AppEnv>(async (c, next) => {
  const { owner } = c.get("auth");
  if (edgeConfig(c.env).RATE_LIMIT_EXEMPT_OWNERS.includes(owner)) return next();
  await enforce(c, next, ownerKey(owner), "owner");
});

/** Before any route: the unauthenticated paths, limited per client address (`CF-Connecting-IP`). */
export const clientRateLimit = createMiddleware<AppEnv>(async (c, next) => {
  if (!clientKeyed(new URL(c.req.url).pathname)) return next();
  const address = (c.req.header("cf-connecting-ip") ?? LOCAL_CLIENT).slice(0, MAX_ADDRESS_LENGTH);
  await enforce(c, next, `ip:${address}`, "client address");
});
