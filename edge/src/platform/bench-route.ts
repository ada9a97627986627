import type { Handler } from "hono";
import { Hono } from "hono";
import { bearerAuth } from "../auth/bearer.ts";
import { edgeConfig } from "../config.ts";
import type { AppEnv } from "../env.ts";
import { notFound, onError } from "../errors.ts";
import { requestId } from "../request-id.ts";
import { sessionRoutes } from "../sessions/routes.ts";

/**
 * `./run bench platform`'s baseline: the session routes (GET /api/v1/context among them) behind only
 * bearer auth at `/__bench/bare/api/v1/…`, so the same handlers can be timed with and without the
 * platform stack in one `wrangler dev`. Served only with PLATFORM_BENCH_BARE_ROUTE=true, which the
 * configuration refuses outside ENVIRONMENT=development; otherwise these paths are 404.
 */
export const BENCH_BARE_PREFIX = "/__bench/bare";

export function benchBareEnabled(env: object): boolean {
  return edgeConfig(env).PLATFORM_BENCH_BARE_ROUTE;
}

// A separate app, so its routes are not the edge's (the OpenAPI document and 405s never see them).
const bare = new Hono<AppEnv>()
  .basePath(BENCH_BARE_PREFIX)
  .use(requestId)
  .use(bearerAuth)
  .route("/api/v1", sessionRoutes)
  .notFound(notFound)
  .onError(onError);

export const benchBareHandler: Handler<AppEnv> = (c) =>
  benchBareEnabled(c.env) ? bare.fetch(c.req.raw, c.env, c.executionCtx) : c.notFound();
