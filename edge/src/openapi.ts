import { Headers, ProblemSchema } from "@chittyconnect/contract";
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "./env.ts";
import { JSON_VALUE_SCHEMA, type JsonSchema, output, PUBLIC } from "./openapi-parts.ts";

const INFO = {
  title: "ChittyConnect edge API",
  version: "1.0.0",
  description:
    "Sessions, documents and 1Password credentials behind one API. Errors are RFC 9457 " +
    "`application/problem+json` with a stable `code` and the `requestId`. A browsable reference is at `/docs`. " +
    "Every operation may also answer 429 `rate_limited` (with `Retry-After` and `RateLimit-*` headers), " +
    "405 `method_not_allowed` (with `Allow`) and, for a capability switched off by a feature flag, 503 " +
    "`feature_disabled`. Every JSON body can be sent and received as `application/msgpack` instead " +
    "(`Content-Type` / `Accept`); problems stay JSON.",
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
  app.openapi(documentRoute, (c) => c.json(openApiDocument(app, new URL(c.req.url).origin), 200));
}

/** Built once per isolate: the routes are static. Only `servers` depends on the request. */
let cached: object | undefined;

function openApiDocument(app: OpenAPIHono<AppEnv>, serverUrl: string): object {
  cached ??= app.getOpenAPI31Document({ openapi: "3.1.0", info: INFO, security: [{ bearer: [] }] });
  return { ...cached, servers: [{ url: serverUrl, description: "the edge that served this document" }] };
}
