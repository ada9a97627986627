import {
  AuditListResponseSchema,
  AuditQuerySchema,
  CredentialResponseSchema,
  IdempotencyKeySchema,
  ProblemSchema,
  ProvisionRequestSchema,
  RotateRequestSchema,
} from "@chittyconnect/contract";
import { AnchorReportSchema, AnchorSchema } from "./audit/anchors.ts";
import {
  ListTokensQuerySchema,
  MintTokenRequestSchema,
  MintTokenResponseSchema,
  TokenListResponseSchema,
} from "./auth/admin.ts";
import { documentPaths } from "./documents/openapi.ts";
import { flagPaths } from "./flags/openapi.ts";
import { input, output, problems, queryParameters } from "./openapi-parts.ts";
import { sessionPaths } from "./sessions/openapi.ts";
import { HealthSchema, StatusReportSchema } from "./status/routes.ts";
import { usagePaths } from "./usage/openapi.ts";

const json = (ref: string) => ({ "application/json": { schema: { $ref: `#/components/schemas/${ref}` } } });

const idempotencyKeyHeader = {
  name: "Idempotency-Key",
  in: "header",
  required: false,
  description:
    "Names this request for 24 h: a retry with the same key and body answers with the first result's " +
    "version (the value read again, never rotated twice); another body → 422; while the first runs → 409. " +
    "May be sent in double quotes.",
  schema: input(IdempotencyKeySchema),
};

function credentialOperation(scope: string, request: string, summary: string) {
  return {
    post: {
      summary,
      security: [{ bearer: [scope] }],
      parameters: [idempotencyKeyHeader],
      requestBody: { required: true, content: json(request) },
      responses: {
        "200": { description: "The credential and its lease", content: json("CredentialResponse") },
        ...problems(400, 401, 403, 404, 409, 413, 415, 422, 502, 503, 504),
      },
    },
  };
}

const noAuth: never[] = [];

/** Built once per isolate: the schemas are static. Only `servers` depends on the request. */
let cached: Record<string, unknown> | undefined;

/** The edge's OpenAPI document; `serverUrl` is where it was fetched from, so clients resolve paths there. */
export function openApiDocument(serverUrl: string): object {
  cached ??= {
    openapi: "3.0.3",
    info: { title: "ChittyConnect edge API", version: "1.0.0" },
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      schemas: {
        Problem: output(ProblemSchema),
        ProvisionRequest: input(ProvisionRequestSchema),
        RotateRequest: input(RotateRequestSchema),
        CredentialResponse: output(CredentialResponseSchema),
        AuditListResponse: output(AuditListResponseSchema),
        MintTokenRequest: input(MintTokenRequestSchema),
        MintTokenResponse: output(MintTokenResponseSchema),
        TokenListResponse: output(TokenListResponseSchema),
        StatusReport: output(StatusReportSchema),
        Health: output(HealthSchema),
        AuditAnchorReport: input(AnchorReportSchema),
        AuditAnchor: output(AnchorSchema),
      },
    },
    paths: {
      ...documentPaths(),
      ...sessionPaths(),
      ...usagePaths(),
      ...flagPaths(),
      "/health": {
        get: {
          summary: "Liveness of the edge alone",
          security: noAuth,
          responses: { "200": { description: "The edge is running", content: json("Health") } },
        },
      },
      "/api/v1/status": {
        get: {
          summary: "Health of every hop: D1, the origin, 1Password Connect",
          security: noAuth,
          responses: { "200": { description: "ok or degraded, per check", content: json("StatusReport") } },
        },
      },
      "/api/v1/internal/audit-anchor": {
        post: {
          summary:
            "Origin only: report the audit chain head (signed with the edge↔origin key, the instance as owner)",
          security: noAuth,
          requestBody: { required: true, content: json("AuditAnchorReport") },
          responses: {
            "200": { description: "The head now held for this instance", content: json("AuditAnchor") },
            ...problems(400, 401, 403, 409, 413, 415),
          },
        },
      },
      "/api/v1/internal/audit-anchor/{instance}": {
        get: {
          summary: "Origin only: the audit chain head the edge holds for this instance (signed request)",
          security: noAuth,
          parameters: [{ name: "instance", in: "path", required: true, schema: { type: "string" } }],
          responses: {
            "200": { description: "The held head", content: json("AuditAnchor") },
            ...problems(401, 404),
          },
        },
      },
      "/api/v1/openapi.json": {
        get: {
          summary: "This document",
          security: noAuth,
          responses: { "200": { description: "OpenAPI 3.0", content: { "application/json": {} } } },
        },
      },
      "/api/v1/credentials/provision": credentialOperation(
        "credentials:provision",
        "ProvisionRequest",
        "Fetch a credential",
      ),
      "/api/v1/credentials/rotate": credentialOperation(
        "credentials:rotate",
        "RotateRequest",
        "Rotate a credential",
      ),
      "/api/v1/credentials/audit": {
        get: {
          summary: "The caller's audit trail, newest first",
          security: [{ bearer: ["credentials:provision"] }, { bearer: ["usage:read"] }],
          parameters: queryParameters(AuditQuerySchema),
          responses: {
            "200": { description: "A page of audit entries", content: json("AuditListResponse") },
            ...problems(400, 401, 403, 502, 503, 504),
          },
        },
      },
      "/api/v1/admin/tokens": {
        post: {
          summary: "Mint an API token (admin token required)",
          security: [{ bearer: [] }],
          requestBody: { required: true, content: json("MintTokenRequest") },
          responses: {
            "201": { description: "The token, shown once", content: json("MintTokenResponse") },
            ...problems(400, 401, 413, 415, 500),
          },
        },
        get: {
          summary: "List tokens, oldest first (admin token required); never shows a token or its hash",
          security: [{ bearer: [] }],
          parameters: queryParameters(ListTokensQuerySchema),
          responses: {
            "200": { description: "A page of tokens", content: json("TokenListResponse") },
            ...problems(400, 401),
          },
        },
      },
      "/api/v1/admin/tokens/{id}": {
        delete: {
          summary: "Revoke a token (admin token required); revoking a revoked token answers 204 again",
          security: [{ bearer: [] }],
          parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }],
          responses: { "204": { description: "Revoked (now or before)" }, ...problems(401, 404) },
        },
      },
    },
  };
  return { ...cached, servers: [{ url: serverUrl, description: "the edge that served this document" }] };
}
