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
 * This list is the one composition point for cross-cutting middleware (feature flags, MessagePack,
 * per-IP limits join it here):
 * - requestLog first: it times everything below and logs the final status;
 * - securityHeaders next: every answer gets them, preflights, 405s and errors included;
 * - corsPolicy before routing: it answers preflights itself;
 * - methodNotAllowedFor answers a wrong method on a known path before any guard runs;
 * - httpCaching last: it sees the handler's own answer (Cache-Control, ETag, 304).
 * Middleware that needs the caller (per-owner rate limits, usage) goes in index.ts's `api` sub-app
 * after bearer auth instead. `./run bench platform` measures both: its bare baseline
 * (PLATFORM_BENCH_BARE_ROUTE) skips this list and serves the same handlers with only the request id
 * and bearer auth in front, so everything else on the main path counts as platform cost.
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
