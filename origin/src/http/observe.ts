import { Headers } from "@chittyconnect/contract";
import type { Context, MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import { type Logger, RequestLog, resolveRequestId } from "../logger.ts";
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

/** Any other method is one label value, so a caller cannot mint series with made-up methods. */
const KNOWN_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

export function methodLabel(method: string): string {
  return KNOWN_METHODS.has(method) ? method : "other";
}

interface LabelledSeries {
  requests: { inc(): void };
  duration: { observe(value: number): void };
}

/**
 * The labelled children of the HTTP metrics, looked up once per label set: `inc(labels)` would
 * hash the label object on every request. Methods, route templates and statuses are bounded, so
 * the map is too.
 */
function seriesCache(
  metrics: OriginMetrics,
): (method: string, route: string, status: number) => LabelledSeries {
  const cache = new Map<string, LabelledSeries>();
  return (method, route, status) => {
    const key = `${method} ${route} ${status}`;
    let series = cache.get(key);
    if (!series) {
      const labels = { method, route, status: String(status) };
      series = {
        requests: metrics.httpRequests.labels(labels),
        duration: metrics.httpDuration.labels(labels),
      };
      cache.set(key, series);
    }
    return series;
  };
}

/** Request id, the request's log, one access line and the HTTP metrics for every request. */
export function observe(logger: Logger, metrics: OriginMetrics): MiddlewareHandler<OriginEnv> {
  const series = seriesCache(metrics);
  return async (c, next) => {
    const started = performance.now();
    const requestId = resolveRequestId(c.req.header(Headers.requestId));
    const log = new RequestLog(logger, requestId);
    c.set("requestId", requestId);
    c.set("log", log);
    await next();
    c.header(Headers.requestId, requestId);
    const seconds = (performance.now() - started) / 1000;
    const method = methodLabel(c.req.method);
    const route = routeLabel(c);
    const status = c.res.status;
    const labelled = series(method, route, status);
    labelled.requests.inc();
    labelled.duration.observe(seconds);
    // Health probes arrive every few seconds from Docker and nginx; at info they would bury real traffic.
    const level = PROBE_ROUTES.has(route) && status < 400 ? "debug" : "info";
    log[level]({ method, route, status, ms: Math.round(seconds * 1000), owner: c.get("owner") }, "request");
  };
}
