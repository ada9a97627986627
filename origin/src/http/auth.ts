import {
  Headers,
  type NonceStore,
  NonceStoreFullError,
  ProblemError,
  type SigningKey,
  verifyRequest,
} from "@chittyconnect/contract";
import type { MiddlewareHandler } from "hono";
import type { AccessVerifier } from "../access/verifier.ts";
import type { OriginEnv } from "./env.ts";

/** One answer for every authentication failure, so callers cannot probe which check failed. */
export function unauthenticated(): ProblemError {
  return new ProblemError({
    status: 401,
    code: "unauthenticated",
    title: "Unauthenticated",
    detail: "The request could not be authenticated.",
  });
}

export function accessMiddleware(verifier: AccessVerifier): MiddlewareHandler<OriginEnv> {
  return async (c, next) => {
    const result = await verifier.verify(c.req.header(Headers.accessJwt));
    if (!result.ok && result.keysUnavailable) {
      c.var.log.error("Cloudflare Access keys (ACCESS_JWKS_URL) could not be fetched");
      throw new ProblemError({
        status: 503,
        code: "access_keys_unavailable",
        title: "Service unavailable",
        detail: "The origin cannot check Access tokens right now; try again shortly.",
        headers: { "retry-after": "5" },
      });
    }
    if (!result.ok) {
      c.var.log.warn({ reason: result.reason }, "access jwt rejected");
      throw unauthenticated();
    }
    await next();
  };
}

export interface SignatureOptions {
  keys: readonly SigningKey[];
  nonces: NonceStore;
  windowSeconds: number;
  now: () => number;
}

/** Verifies the edge's request signature over the body bytes read earlier by the body middleware. */
export function signatureMiddleware(options: SignatureOptions): MiddlewareHandler<OriginEnv> {
  return async (c, next) => {
    let result: Awaited<ReturnType<typeof verifyRequest>>;
    try {
      result = await verifyRequest({
        method: c.req.method,
        url: c.req.url,
        headers: c.req.raw.headers,
        body: c.var.body,
        keys: options.keys,
        nonces: options.nonces,
        windowSeconds: options.windowSeconds,
        now: options.now(),
      });
    } catch (error) {
      if (!(error instanceof NonceStoreFullError)) throw error;
      c.var.log.error("nonce store full; refusing signed requests until entries expire");
      throw new ProblemError({
        status: 503,
        code: "overloaded",
        title: "Service overloaded",
        detail: "Too many requests in the signature window; retry shortly.",
        headers: { "retry-after": String(options.windowSeconds) },
      });
    }
    if (!result.ok) {
      c.var.log.warn({ reason: result.reason }, "request signature rejected");
      throw unauthenticated();
    }
    c.set("owner", result.owner);
    await next();
  };
}
