import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env.ts";
import { contentDisposition } from "./http-range.ts";
import { verifyPresign } from "./presign.ts";
import { DocumentService } from "./service.ts";

/**
 * Presigned downloads of immutable document versions, served from the Cache API (`caches.default`,
 * per Cloudflare location) on repeat, so a link shared with many readers reads R2 once.
 *
 * Safe by construction:
 * - only a whole, unconditional GET is served from or stored in the cache: Range, If-None-Match and
 *   HEAD requests go to the route, which answers them from R2 as before (no partial body is cached);
 * - the token is verified (HMAC, expiry) before the cache is even asked, and a hit is served only
 *   after the same revocation check the route makes (document active, owned by the token's owner,
 *   its current version the token's): a deleted document or a replaced version is never served;
 * - the entry is one per document, tagged with its version; a hit of another version is a miss;
 * - deleting a document or replacing its content purges the entry (here, where it happened; other
 *   locations age out, and the revocation check covers them meanwhile);
 * - what the caller receives is `Cache-Control: private, no-cache` as from the route; only the
 *   edge's own cache copy carries a lifetime.
 * Hits still write the document's access log.
 */
export const PRESIGNED_CACHE_MAX_BYTES = 8 * 1024 * 1024;
const CACHE_LIFETIME_SECONDS = 86_400;
const VERSION_HEADER = "x-document-version";
const PRESIGNED = /^\/api\/v1\/documents\/presigned\/([^/]+)$/;
// DELETE /documents/{id} and PUT /documents/{id}/content make a cached copy obsolete.
const INVALIDATING = /^\/api\/v1\/documents\/([0-9a-f-]{36})(\/content)?$/;

/** The cache key: a URL under the edge's own host that no route serves. */
function cacheKey(requestUrl: string, documentId: string): Request {
  return new Request(new URL(`/__cache/documents/${documentId}`, requestUrl));
}

function log(fields: Record<string, unknown>): void {
  console.warn(JSON.stringify({ level: "warn", component: "documents.presigned-cache", ...fields }));
}

export const presignedCache = createMiddleware<AppEnv>(async (c, next) => {
  const path = c.req.path;
  const invalidated = INVALIDATING.exec(path);
  if (invalidated) {
    await next();
    const method = c.req.method;
    const removed = method === "DELETE" && invalidated[2] === undefined && c.res.status === 204;
    const replaced = method === "PUT" && invalidated[2] !== undefined && c.res.ok;
    if (removed || replaced) {
      c.executionCtx.waitUntil(
        caches.default.delete(cacheKey(c.req.url, invalidated[1] ?? "")).then(
          () => undefined,
          (error: unknown) =>
            log({ msg: "purge failed", error: error instanceof Error ? error.name : "unknown" }),
        ),
      );
    }
    return;
  }
  const token = PRESIGNED.exec(path)?.[1];
  const raw = c.req.raw;
  if (
    token === undefined ||
    raw.method !== "GET" ||
    raw.headers.has("range") ||
    raw.headers.has("if-none-match")
  ) {
    return next();
  }
  const service = new DocumentService(c.env);
  const verdict = await verifyPresign(service.config.urlSigningKey, token, Math.floor(Date.now() / 1000));
  // The route answers a bad or expired token with its 403.
  if (!verdict.ok) return next();
  const { claims } = verdict;
  c.set("presignedOwner", claims.owner);
  const key = cacheKey(c.req.url, claims.documentId);
  const hit = await caches.default.match(key);
  if (hit && hit.headers.get(VERSION_HEADER) === String(claims.version)) {
    const doc = await service.store.visible(claims.documentId, claims.owner, "owner").catch(() => undefined);
    if (doc === undefined || doc.current_version !== claims.version) {
      await hit.body?.cancel();
      c.executionCtx.waitUntil(caches.default.delete(key).then(() => undefined));
      return next();
    }
    await service.store
      .logStatement(doc.id, `presigned:${claims.owner}`, "download", {
        version: claims.version,
        requestId: c.get("requestId"),
      })
      .run();
    const headers = new Headers(hit.headers);
    for (const name of [VERSION_HEADER, "cf-cache-status", "age", "expires"]) headers.delete(name);
    headers.set("cache-control", "private, no-cache");
    headers.set("content-disposition", contentDisposition(doc.name));
    headers.set("cross-origin-resource-policy", "cross-origin");
    headers.set("x-cache", "hit");
    return new Response(hit.body, { status: 200, headers });
  }
  await hit?.body?.cancel();
  await next();
  const res = c.res;
  if (res.status !== 200 || res.body === null) return;
  // A presigned link is meant to be handed on, also to pages on other sites.
  res.headers.set("cross-origin-resource-policy", "cross-origin");
  res.headers.set("x-cache", "miss");
  const size = Number(res.headers.get("content-length"));
  if (!(size <= PRESIGNED_CACHE_MAX_BYTES)) return;
  const [toClient, toCache] = res.body.tee();
  const stored = new Headers(res.headers);
  stored.delete("x-cache");
  stored.set("cache-control", `public, max-age=${CACHE_LIFETIME_SECONDS}`);
  stored.set(VERSION_HEADER, String(claims.version));
  c.executionCtx.waitUntil(
    caches.default
      .put(key, new Response(toCache, { status: 200, headers: stored }))
      .catch((error: unknown) => {
        log({ msg: "cache put failed", error: error instanceof Error ? error.name : "unknown" });
      }),
  );
  const headers = new Headers(res.headers);
  // Cleared first: assigning over a response copies all of its headers into the new one.
  c.res = undefined;
  c.res = new Response(toClient, { status: 200, headers });
});
