import { createMiddleware } from "hono/factory";
import { secureHeaders } from "hono/secure-headers";
import type { AppEnv } from "../env.ts";

/**
 * Security headers on every answer, errors and preflights included. A header the handler set itself
 * wins (`overwrite: false`): the docs page brings its own CSP, a download its `sandbox` CSP, a
 * presigned link its cross-origin resource policy. HSTS is sent on http too: browsers ignore it
 * there (RFC 6797 §8.1), and in production Cloudflare terminates TLS in front of the Worker.
 */
const headers = secureHeaders({
  strictTransportSecurity: "max-age=63072000; includeSubDomains",
  xContentTypeOptions: true,
  contentSecurityPolicy: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
  referrerPolicy: "no-referrer",
  crossOriginResourcePolicy: "same-origin",
  crossOriginOpenerPolicy: "same-origin",
  xFrameOptions: "DENY",
  // Headers for HTML pages that an API's JSON does not need; the docs page sets what it wants.
  originAgentCluster: false,
  xDnsPrefetchControl: false,
  xDownloadOptions: false,
  xPermittedCrossDomainPolicies: false,
  xXssProtection: false,
  removePoweredBy: true,
  overwrite: false,
});

export const securityHeaders = createMiddleware<AppEnv>(async (c, next) => {
  await headers(c, next);
  // Cloudflare adds its own `server: cloudflare` outside the Worker; nothing from inside may name itself.
  c.res.headers.delete("server");
});
