import type { MiddlewareHandler } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env.ts";
import { BENCH_BARE_PREFIX, benchBareEnabled } from "./bench-route.ts";
import { corsPolicy } from "./cors.ts";
import { httpCaching } from "./http-caching.ts";
import { methodNotAllowedFor, type RouteTable } from "./method-not-allowed.ts";
import { requestLog } from "./request-log.ts";
import { securityHeaders } from "./security-headers.ts";

/**
 * The platform middleware, outermost first, applied to every request by one `.use(...)` in index.ts.
 * This list is the one composition point: a cross-cutting middleware (rate limits, feature flags,
 * MessagePack, usage) joins it here, and `./run bench platform` then measures its cost too, because
 * the bench's bare route (PLATFORM_BENCH_BARE_ROUTE) skips exactly this list.
 * - requestLog first: it times everything below and logs the final status;
 * - securityHeaders next: every answer gets them, preflights, 405s and errors included;
 * - corsPolicy before routing: it answers preflights itself;
 * - methodNotAllowedFor turns a 404 on a known path into 405 + Allow;
 * - httpCaching last: it sees the handler's own answer (Cache-Control, ETag, 304).
 * Middleware that needs the caller (rate limits per owner, usage) runs after bearer auth, in the
 * `api` sub-app; it can still be listed here as a second array if the bench is to cover it.
 */
export function platformStack(app: () => RouteTable): MiddlewareHandler<AppEnv>[] {
  return [requestLog, securityHeaders, corsPolicy, methodNotAllowedFor(app), httpCaching].map(
    unlessBenchBare,
  );
}

function unlessBenchBare(middleware: MiddlewareHandler<AppEnv>): MiddlewareHandler<AppEnv> {
  return createMiddleware<AppEnv>(async (c, next) => {
    if (c.req.path.startsWith(`${BENCH_BARE_PREFIX}/`) && benchBareEnabled(c.env)) return next();
    return middleware(c, next);
  });
}
