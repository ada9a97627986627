import { ProblemError, readStreamLimited } from "@chittyconnect/contract";
import { createMiddleware } from "hono/factory";
import type { AuthContext } from "../auth/bearer.ts";
import { etagListMatches } from "../documents/http-range.ts";
import type { AppEnv } from "../env.ts";
import { routeClass } from "./route-class.ts";
import { appendVary } from "./vary.ts";

/** Bodies above this get `Cache-Control` but no ETag: hashing them costs more than revalidation saves. */
export const JSON_ETAG_MAX_BYTES = 256 * 1024;
// What a 304 keeps of the 200 it stands for (RFC 9110 §15.4.5).
const KEPT_ON_304 = ["cache-control", "content-location", "date", "etag", "expires", "vary"];

/**
 * The edge's caching policy, one place for every route:
 * - credentials and admin (token mints): `no-store`, always, no ETag;
 * - a successful GET of JSON: `private, no-cache` when authenticated (replacing a handler's blanket
 *   `no-store`: the browser may keep the owner's data but must revalidate it on every use), `no-cache`
 *   when public; a strong ETag over the body when it is at most JSON_ETAG_MAX_BYTES, and 304 on
 *   `If-None-Match`. A handler's own ETag is kept but not answered with 304 here: it may stand for
 *   a version rather than for these exact bytes (a document's metadata changes without a new version);
 * - anything else without its own Cache-Control (writes, errors): `no-store`.
 * Non-JSON answers keep their own headers: document downloads handle ETag, Range and 304 themselves.
 * Authenticated answers vary by `Authorization` and `Accept` (the token chooses the owner; content
 * negotiation may choose the encoding).
 */
export const httpCaching = createMiddleware<AppEnv>(async (c, next) => {
  await next();
  const res = c.res;
  if (res.status < 200) return;
  const headers = res.headers;
  const authenticated = (c.get("auth") as AuthContext | undefined) !== undefined;
  if (authenticated || c.req.header("authorization") !== undefined) {
    appendVary(headers, "Authorization");
    appendVary(headers, "Accept");
  }
  const cls = routeClass(c.req.path);
  if (cls === "credentials" || cls === "admin") {
    headers.set("cache-control", "no-store");
    headers.delete("etag");
    return;
  }
  const safe = c.req.method === "GET" || c.req.method === "HEAD";
  const json = /^application\/(?:[\w.+-]+\+)?json\b/i.test(headers.get("content-type") ?? "");
  if (!(safe && res.status === 200 && json)) {
    if (!headers.has("cache-control")) headers.set("cache-control", "no-store");
    return;
  }
  if (authenticated) headers.set("cache-control", "private, no-cache");
  else if (!headers.has("cache-control")) headers.set("cache-control", "no-cache");
  // A public answer the handler keeps out of caches (status) needs no validator either.
  if (headers.has("etag") || /no-store/.test(headers.get("cache-control") ?? "") || res.body === null) return;
  const body = await readAtMost(res.clone().body, JSON_ETAG_MAX_BYTES);
  if (body === undefined) return;
  const etag = await strongEtag(body);
  const ifNoneMatch = c.req.header("if-none-match");
  if (ifNoneMatch !== undefined && etagListMatches(ifNoneMatch, etag, true)) {
    const kept = new Headers({ etag });
    for (const name of KEPT_ON_304) {
      const value = headers.get(name);
      if (value !== null && name !== "etag") kept.set(name, value);
    }
    await res.body.cancel();
    // Cleared first: assigning over a response copies all of its headers into the new one.
    c.res = undefined;
    c.res = new Response(null, { status: 304, headers: kept });
    return;
  }
  headers.set("etag", etag);
});

/** The body's bytes, or undefined (the clone cancelled) once it passes `limit`. */
async function readAtMost(stream: ReadableStream<Uint8Array> | null, limit: number) {
  try {
    return await readStreamLimited(stream, limit, 0);
  } catch (error) {
    if (error instanceof ProblemError) return undefined;
    throw error;
  }
}

async function strongEtag(body: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", body));
  let binary = "";
  for (const byte of digest.subarray(0, 18)) binary += String.fromCharCode(byte);
  return `"${btoa(binary).replace(/\+/g, "-").replace(/\//g, "_")}"`;
}
