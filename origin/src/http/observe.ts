import { Headers } from "@chittyconnect/contract";
import type { Context, MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import { type Logger, resolveRequestId } from "../logger.ts";
import type { OriginMetrics } from "../metrics.ts";
import type { OriginEnv } from "./env.ts";

/**
 * The route template that answered, for metric labels: raw paths would let any caller mint new
 * time series. Wildcards belong to middlewares, so a request that only matched those is unmatched.
 */
const PROBE_ROUTES = new Set(["/healthz", "/readyz", "/metrics"]);

export function routeLabel(c: Context<OriginEnv>): string {
  const template = routePath(c, -1);
  return template.endsWith("*") ? "unmatched" : template;
}

/** Request id, per-request logger, one access-log line and the HTTP metrics for every request. */
export function observe(logger: Logger, metrics: OriginMetrics): MiddlewareHandler<OriginEnv> {
  return async (c, next) => {
    const started = performance.now();
    const requestId = resolveRequestId(c.req.header(Headers.requestId));
    c.set("requestId", requestId);
    c.set("log", logger.child({ requestId }));
    await next();
    c.header(Headers.requestId, requestId);
    const seconds = (performance.now() - started) / 1000;
    const labels = { method: c.req.method, route: routeLabel(c), status: String(c.res.status) };
    metrics.httpRequests.inc(labels);
    metrics.httpDuration.observe(labels, seconds);
    // Health probes arrive every few seconds from Docker and nginx; at info they would bury real traffic.
    const level = PROBE_ROUTES.has(labels.route) && c.res.status < 400 ? "debug" : "info";
    c.var.log[level](
      {
        method: labels.method,
        route: labels.route,
        status: c.res.status,
        ms: Math.round(seconds * 1000),
        owner: c.get("owner"),
      },
      "request",
    );
  };
}
