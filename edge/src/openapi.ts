import { Headers, ProblemSchema } from "@chittyconnect/contract";
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "./env.ts";
import { JSON_VALUE_SCHEMA, type JsonSchema, output, PUBLIC } from "./openapi-parts.ts";
import { gateOf } from "./platform/flags.ts";
import { clientKeyed } from "./platform/rate-limit.ts";

const INFO = {
  title: "ChittyConnect edge API",
  version: "1.0.0",
  description:
    "Sessions, documents and 1Password credentials behind one API. Errors are RFC 9457 " +
    "`application/problem+json` with a stable `code` and the `requestId`. A browsable reference is at `/docs`. " +
    "A method a path does not have answers 405 `method_not_allowed` with `Allow`. Every JSON body can be " +
    "sent and received as `application/msgpack` instead (`Content-Type` / `Accept`); problems stay JSON.",
};

const OBJECT: JsonSchema = { type: "object" };

const documentRoute = createRoute({
  method: "get",
  path: "/api/v1/openapi.json",
  tags: ["operations"],
  summary: "This document (OpenAPI 3.1), generated from the route definitions",
  security: PUBLIC,
  responses: { 200: { description: "OpenAPI 3.1", content: { "application/json": { schema: OBJECT } } } },
});

/**
 * Serves the document generated from every route registered on `app` (and the sub-apps mounted on it),
 * so a route cannot exist undocumented. Call it once, after everything else is mounted.
 */
export function serveOpenApiDocument(app: OpenAPIHono<AppEnv>): void {
  const registry = app.openAPIRegistry;
  registry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description:
      "An API token minted by `POST /api/v1/admin/tokens` (or the admin token for `/api/v1/admin/*`). " +
      "The names in each requirement are the scopes the token needs; any one listed alternative suffices.",
  });
  registry.registerComponent("securitySchemes", "admin", {
    type: "http",
    scheme: "bearer",
    description: "The edge's `ADMIN_TOKEN` secret (local stack: `.local/secrets.json`).",
  });
  registry.registerComponent("securitySchemes", "originSignature", {
    type: "apiKey",
    in: "header",
    name: Headers.signature,
    description:
      "Origin → edge only: the request signed with the shared `EDGE_SIGNING_KEY` (see `contract/`).",
  });
  registry.registerComponent("schemas", "Problem", output(ProblemSchema));
  registry.registerComponent("schemas", "JsonValue", JSON_VALUE_SCHEMA);
  registry.registerComponent("responses", "RateLimited", RATE_LIMITED);
  app.openapi(documentRoute, (c) => c.json(openApiDocument(app, new URL(c.req.url).origin), 200));
}

/** Built once per isolate: the routes are static. Only `servers` depends on the request. */
let cached: object | undefined;

function openApiDocument(app: OpenAPIHono<AppEnv>, serverUrl: string): object {
  cached ??= withPlatformAnswers(
    app.getOpenAPI31Document({ openapi: "3.1.0", info: INFO, security: [{ bearer: [] }] }),
  );
  return { ...cached, servers: [{ url: serverUrl, description: "the edge that served this document" }] };
}

type Operation = { security?: Record<string, string[]>[]; responses: Record<string, unknown> };

const OPERATIONS = new Set(["get", "put", "post", "delete", "patch", "head", "options"]);
const PROBLEM = { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } };
const INTEGER = { schema: { type: "integer" as const } };
const RATE_LIMITED = {
  description:
    "Problem `rate_limited`: the caller's limit for this route class is used up (per owner behind a " +
    "token, per client address otherwise). `RateLimit-*` headers come with every answer of a limited route.",
  headers: {
    "Retry-After": { description: "Seconds until a request can pass", ...INTEGER },
    "RateLimit-Limit": { description: "Requests allowed per window", ...INTEGER },
    "RateLimit-Remaining": { description: "Requests left in the window", ...INTEGER },
    "RateLimit-Reset": {
      description: "Seconds until the oldest counted request leaves the window",
      ...INTEGER,
    },
    "RateLimit-Policy": { description: "`<limit>;w=60`", schema: { type: "string" as const } },
  },
  content: PROBLEM,
};
const RATE_LIMITED_REF = { $ref: "#/components/responses/RateLimited" };

/**
 * Adds the answers the platform middleware gives in front of a route, decided by the same functions
 * the middleware uses: 429 where a limiter runs (the per-address paths, and every route behind a
 * bearer token), 503 where a feature flag gates the capability (and, for credentials, when the
 * limiter does not answer: they fail closed). A route's own 503 keeps its meaning, with these added.
 */
function withPlatformAnswers<D extends { paths?: object }>(doc: D): D {
  for (const [path, item] of Object.entries(doc.paths ?? {}) as [string, object][]) {
    for (const [method, value] of Object.entries(item)) {
      if (!OPERATIONS.has(method)) continue;
      const operation = value as Operation;
      const behindToken = (operation.security ?? [{ bearer: [] }]).some((s) => "bearer" in s);
      if (clientKeyed(path) || behindToken) operation.responses["429"] = RATE_LIMITED_REF;
      const gate = behindToken ? gateOf(path) : undefined;
      if (gate) {
        const limiter =
          gate.flag === "credentials"
            ? "; or `rate_limiter_unavailable` with `Retry-After`: the rate limiter did not answer, and " +
              "credential routes fail closed"
            : "";
        const flagged = `Problem \`feature_disabled\` (with \`flag\`: \`${gate.flag}\`): ${gate.capability} is switched off for this owner${limiter}`;
        const own = operation.responses["503"] as { description: string } | undefined;
        // A route's own 503 (its upstream unavailable) stays, with the platform's added.
        operation.responses["503"] = own
          ? { ...own, description: `${own.description}; or ${flagged}` }
          : { description: flagged, content: PROBLEM };
      }
    }
  }
  return doc;
}
