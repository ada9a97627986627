import { contentLength } from "@chittyconnect/contract";
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { matchedRoutes } from "hono/route";
import type { AuthContext } from "../auth/bearer.ts";
import type { AppEnv } from "../env.ts";
import { type RouteClass, routeClass } from "./route-class.ts";

/** One request as the log line and the Analytics Engine data point describe it. */
export interface RequestRecord {
  requestId: string;
  owner?: string;
  routeClass: RouteClass;
  /** The matched route pattern (`/api/v1/documents/presigned/:token`), never the URL: paths carry tokens. */
  route: string | null;
  method: string;
  status: number;
  latencyMs: number;
  bytesIn?: number;
  bytesOut?: number;
}

/**
 * The pattern of the route that answered (`/api/v1/documents/stats`, not `/:id`, which matches too);
 * when a middleware answered first (401, a cache hit), the route it stood in front of; null when no
 * route matches at all (404, 405, preflight).
 */
function routePattern(c: Context<AppEnv>): string | null {
  const routes = matchedRoutes(c);
  const at = c.req.routeIndex;
  return routes.slice(at).find((route) => route.method !== "ALL")?.path ?? null;
}

/**
 * One JSON line per request, fields chosen one by one: no header value, query, URL or body ever,
 * so no token can reach the log. Owner ids are identifiers, not secrets.
 */
export const requestLog = createMiddleware<AppEnv>(async (c, next) => {
  const started = performance.now();
  await next();
  const auth = c.get("auth") as AuthContext | undefined;
  const record: RequestRecord = {
    requestId: c.get("requestId"),
    ...(auth ? { owner: auth.owner } : {}),
    routeClass: routeClass(c.req.path),
    route: routePattern(c),
    method: c.req.method,
    status: c.res.status,
    latencyMs: Math.round((performance.now() - started) * 100) / 100,
    bytesIn: contentLength(c.req.header("content-length")),
    bytesOut: contentLength(c.res.headers.get("content-length")),
  };
  console.log(JSON.stringify({ level: "info", msg: "request", ...record }));
  const analytics = c.env.ANALYTICS;
  if (analytics) c.executionCtx.waitUntil(writeDataPoint(analytics, record));
});

/**
 * One Analytics Engine data point per request. blobs: route class, route pattern, status class,
 * method; doubles: latency ms, bytes in, bytes out (0 when unknown), status; index: a hash of the
 * owner (`anonymous` without one), so the dataset can be sampled per owner without naming owners.
 */
export async function writeDataPoint(analytics: AnalyticsEngineDataset, record: RequestRecord) {
  try {
    analytics.writeDataPoint({
      blobs: [
        record.routeClass,
        record.route ?? "(unmatched)",
        `${Math.floor(record.status / 100)}xx`,
        record.method,
      ],
      doubles: [record.latencyMs, record.bytesIn ?? 0, record.bytesOut ?? 0, record.status],
      indexes: [record.owner === undefined ? "anonymous" : await ownerHash(record.owner)],
    });
  } catch (error) {
    // Analytics is best effort: a failed write must never fail or delay the answer.
    const name = error instanceof Error ? error.name : typeof error;
    console.warn(
      JSON.stringify({
        level: "warn",
        msg: "analytics write failed",
        requestId: record.requestId,
        error: name,
      }),
    );
  }
}

/** SHA-256 of the owner id, first 16 bytes in hex (Analytics Engine indexes hold at most 96 bytes). */
export async function ownerHash(owner: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(owner)));
  return Array.from(digest.subarray(0, 16), (byte) => byte.toString(16).padStart(2, "0")).join("");
}
