import {
  isJsonMediaType,
  MemoryNonceStore,
  type NonceStore,
  readRequestLimited,
  unsupportedMediaType,
} from "@chittyconnect/contract";
import { Hono } from "hono";
import { type AccessVerifier, createAccessVerifier } from "./access/verifier.ts";
import type { OriginConfig } from "./config.ts";
import type { CredentialService } from "./credentials/service.ts";
import { accessMiddleware, signatureMiddleware } from "./http/auth.ts";
import type { OriginEnv } from "./http/env.ts";
import { notFound, onError } from "./http/errors.ts";
import { importNodeSigningKey, type NodeSigningKey } from "./http/node-signing.ts";
import { observe } from "./http/observe.ts";
import { credentialRoutes, operationalRoutes } from "./http/routes.ts";
import type { Logger } from "./logger.ts";
import type { OriginMetrics } from "./metrics.ts";

export interface OriginAppOptions {
  config: OriginConfig;
  logger: Logger;
  metrics: OriginMetrics;
  credentials: CredentialService;
  /** Shared (Redis) in production with replicas; a fresh in-memory store otherwise. */
  nonces?: NonceStore;
  /** Clock in milliseconds; tests move it to check the signature window. */
  now?: () => number;
  /** Replaces the JWKS-backed Access check built from the config. */
  access?: AccessVerifier;
}

export type OriginApp = Hono<OriginEnv>;

export function signingKeys(config: OriginConfig): NodeSigningKey[] {
  const keys = [importNodeSigningKey(config.EDGE_SIGNING_KEY)];
  if (config.EDGE_SIGNING_KEY_PREVIOUS) keys.push(importNodeSigningKey(config.EDGE_SIGNING_KEY_PREVIOUS));
  return keys;
}

function accessVerifierFrom(config: OriginConfig): AccessVerifier | undefined {
  if (!config.ACCESS_JWKS_URL || !config.ACCESS_AUDIENCE) return undefined;
  return createAccessVerifier({
    jwksUrl: config.ACCESS_JWKS_URL,
    audience: config.ACCESS_AUDIENCE,
    ...(config.ACCESS_ISSUER ? { issuer: config.ACCESS_ISSUER } : {}),
  });
}

/**
 * The origin's HTTP surface. Order on /v1: read the body under the size limit, check the Access
 * JWT (when configured), verify the edge signature over those same bytes, require JSON on POST,
 * then route. Authentication precedes content checks so unauthenticated callers learn nothing.
 */
export async function createOriginApp(options: OriginAppOptions): Promise<OriginApp> {
  const { config, logger, metrics, credentials } = options;
  const access = options.access ?? accessVerifierFrom(config);
  const now = options.now ?? Date.now;
  const app = new Hono<OriginEnv>();
  app.use("*", observe(logger, metrics));
  const instanceId = config.INSTANCE_ID;
  if (instanceId) {
    for (const path of ["/healthz", "/readyz"]) {
      app.use(path, async (c, next) => {
        await next();
        c.header("x-instance-id", instanceId);
      });
    }
  }
  app.use("/v1/*", async (c, next) => {
    c.set("body", await readRequestLimited(c.req.raw, config.MAX_BODY_BYTES));
    await next();
  });
  if (access) app.use("/v1/*", accessMiddleware(access));
  app.use(
    "/v1/*",
    signatureMiddleware({
      keys: signingKeys(config),
      nonces: options.nonces ?? new MemoryNonceStore(),
      windowSeconds: config.SIGNATURE_WINDOW_SECONDS,
      now,
      // Whatever a predecessor (or, with a shared store, a Redis that lost its data) accepted was
      // signed before this process started, give or take the edge's clock running ahead.
      notBeforeMs: now() + config.CLOCK_SKEW_MS,
    }),
  );
  app.use("/v1/*", async (c, next) => {
    if (c.req.method === "POST" && !isJsonMediaType(c.req.header("content-type"))) {
      throw unsupportedMediaType();
    }
    await next();
  });
  app.route("/v1", credentialRoutes(credentials));
  app.route("/", operationalRoutes(credentials, metrics));
  app.notFound(notFound);
  app.onError(onError);
  return app;
}
