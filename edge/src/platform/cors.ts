import { ProblemError, problemResponse } from "@chittyconnect/contract";
import { createMiddleware } from "hono/factory";
import { edgeConfig } from "../config.ts";
import type { AppEnv } from "../env.ts";
import { appendVary } from "./vary.ts";

/**
 * CORS by an allowlist (`CORS_ORIGINS`). Written here rather than with `hono/cors` because that one
 * answers every OPTIONS as an allowed preflight, also for an origin it does not list, and writes its
 * headers before the handler runs, re-wrapping the handler's response (a WebSocket 101 must not be).
 */
const ALLOW_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE";
const ALLOW_HEADERS = [
  "accept",
  "authorization",
  "content-type",
  "idempotency-key",
  "if-match",
  "if-none-match",
  "range",
  "x-chittyid",
  "x-request-id",
].join(", ");
// What a browser script may read: downloads (ranges, ETags, names), retries and limits, request ids.
const EXPOSE_HEADERS = [
  "allow",
  "content-disposition",
  "content-length",
  "content-range",
  "etag",
  "location",
  "ratelimit",
  "ratelimit-limit",
  "ratelimit-policy",
  "ratelimit-remaining",
  "ratelimit-reset",
  "retry-after",
  "www-authenticate",
  "x-cache",
  "x-request-id",
].join(", ");
const MAX_AGE_SECONDS = "600";

/**
 * A listed origin gets `Access-Control-Allow-Origin: <that origin>` and credentials; `*` (development
 * only) gets `*` without credentials; any other origin gets no CORS header at all, and its preflight
 * a 403 `cors_origin_denied`, so a misconfigured front end fails loudly in the browser console.
 */
export const corsPolicy = createMiddleware<AppEnv>(async (c, next) => {
  const origin = c.req.header("origin");
  if (origin === undefined) return next();
  const allowed = edgeConfig(c.env).CORS_ORIGINS;
  const wildcard = allowed.includes("*");
  const listed = wildcard || allowed.includes(origin);
  const preflight = c.req.method === "OPTIONS" && c.req.header("access-control-request-method") !== undefined;
  if (preflight) {
    if (!listed) {
      const problem = new ProblemError({
        status: 403,
        code: "cors_origin_denied",
        title: "Forbidden",
        detail: "This origin is not in the edge's CORS_ORIGINS.",
      });
      const response = problemResponse(problem.toProblem(c.get("requestId")));
      appendVary(response.headers, "Origin");
      return response;
    }
    const headers = new Headers({
      "access-control-allow-origin": wildcard ? "*" : origin,
      "access-control-allow-methods": ALLOW_METHODS,
      "access-control-allow-headers": ALLOW_HEADERS,
      "access-control-max-age": MAX_AGE_SECONDS,
      vary: "Origin",
    });
    if (!wildcard) headers.set("access-control-allow-credentials", "true");
    return new Response(null, { status: 204, headers });
  }
  await next();
  // A WebSocket upgrade is not subject to CORS (the browser sends no preflight), and its 101 is left alone.
  if (c.res.status === 101) return;
  appendVary(c.res.headers, "Origin");
  if (!listed) return;
  c.res.headers.set("access-control-allow-origin", wildcard ? "*" : origin);
  c.res.headers.set("access-control-expose-headers", EXPOSE_HEADERS);
  if (!wildcard) c.res.headers.set("access-control-allow-credentials", "true");
});
