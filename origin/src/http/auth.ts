import {
  Headers,
  type NonceStore,
  NonceStoreUnavailableError,
  ProblemError,
  type VerifyResult,
  verifySignedRequest,
} from "@chittyconnect/contract";
import type { MiddlewareHandler } from "hono";
import type { AccessVerifier } from "../access/verifier.ts";
import type { OriginEnv } from "./env.ts";
import { type NodeSigningKey, nodeCryptoSuite } from "./node-signing.ts";

/** One answer for every authentication failure, so callers cannot probe which check failed. */
export function unauthenticated(): ProblemError {
  return new ProblemError({
    status: 401,
    code: "unauthenticated",
    title: "Unauthenticated",
    detail: "The request could not be authenticated.",
  });
}

/** The origin cannot decide right now; the caller may retry after `retryAfterSeconds`. */
function unavailable(code: string, detail: string, retryAfterSeconds: number): ProblemError {
  return new ProblemError({
    status: 503,
    code,
    title: "Service unavailable",
    detail,
    headers: { "retry-after": String(retryAfterSeconds) },
  });
}

export function accessMiddleware(verifier: AccessVerifier): MiddlewareHandler<OriginEnv> {
  return async (c, next) => {
    const result = await verifier.verify(c.req.header(Headers.accessJwt));
    if (!result.ok && result.keysUnavailable) {
      c.var.log.error("Cloudflare Access keys (ACCESS_JWKS_URL) could not be fetched");
      throw unavailable(
        "access_keys_unavailable",
        "The origin cannot check Access tokens right now; try again shortly.",
        5,
      );
    }
    if (!result.ok) {
      c.var.log.warn({ reason: result.reason }, "access jwt rejected");
      throw unauthenticated();
    }
    await next();
  };
}

export interface SignatureOptions {
  keys: readonly NodeSigningKey[];
  nonces: NonceStore;
  windowSeconds: number;
  now: () => number;
  /** Signatures dated before this (ms) are refused: see CLOCK_SKEW_MS. */
  notBeforeMs: number;
}

/** Verifies the edge's request signature over the body bytes read earlier by the body middleware. */
export function signatureMiddleware(options: SignatureOptions): MiddlewareHandler<OriginEnv> {
  return async (c, next) => {
    let result: VerifyResult;
    try {
      result = await verifySignedRequest(
        {
          method: c.req.method,
          url: c.req.url,
          headers: c.req.raw.headers,
          body: c.var.body,
          keys: options.keys,
          nonces: options.nonces,
          windowSeconds: options.windowSeconds,
          now: options.now(),
          notBeforeMs: options.notBeforeMs,
        },
        nodeCryptoSuite,
      );
    } catch (error) {
      if (!(error instanceof NonceStoreUnavailableError)) throw error;
      c.var.log.error("nonce store unavailable; refusing signed requests");
      throw unavailable(
        "replay_store_unavailable",
        "The origin cannot check for replayed requests right now; retry shortly.",
        2,
      );
    }
    if (!result.ok && result.reason === "predates_start") {
      c.var.log.warn({ reason: result.reason }, "request signature rejected");
      throw unavailable(
        "origin_starting",
        "The origin has just started and refuses requests signed before then; retry shortly.",
        1,
      );
    }
    if (!result.ok) {
      c.var.log.warn({ reason: result.reason }, "request signature rejected");
      throw unauthenticated();
    }
    c.set("owner", result.owner);
    c.set("services", result.services);
    await next();
  };
}
