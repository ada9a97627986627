import {
  AuditListResponseSchema,
  AuditQuerySchema,
  CredentialResponseSchema,
  ProblemSchema,
  ProvisionRequestSchema,
  RotateRequestSchema,
} from "@chittyconnect/contract";
import { z } from "zod";
import { MintTokenRequestSchema } from "./auth/admin.ts";
import { documentPaths } from "./documents/openapi.ts";

type JsonSchema = Record<string, unknown>;

// Request bodies are described as clients send them (before transforms), responses as produced.
const input = (schema: z.ZodType): JsonSchema =>
  z.toJSONSchema(schema, { io: "input", target: "openapi-3.0" });
const output = (schema: z.ZodType): JsonSchema =>
  z.toJSONSchema(schema, { io: "output", target: "openapi-3.0" });

function queryParameters(schema: z.ZodType) {
  const json = input(schema) as { properties?: Record<string, object>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, property]) => ({
    name,
    in: "query",
    required: json.required?.includes(name) ?? false,
    schema: property,
  }));
}

const problem = { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } };
const errors = (...statuses: number[]) =>
  Object.fromEntries(
    statuses.map((status) => [String(status), { description: "Problem", content: problem }]),
  );
const json = (ref: string) => ({ "application/json": { schema: { $ref: `#/components/schemas/${ref}` } } });

function credentialOperation(scope: string, request: string, summary: string) {
  return {
    post: {
      summary,
      security: [{ bearer: [scope] }],
      requestBody: { required: true, content: json(request) },
      responses: {
        "200": { description: "The credential and its lease", content: json("CredentialResponse") },
        ...errors(400, 401, 403, 404, 413, 415, 502, 503, 504),
      },
    },
  };
}

/** Built once per isolate: the schemas are static. */
let cached: object | undefined;

export function openApiDocument(): object {
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
      },
    },
    paths: {
      ...documentPaths(),
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
            ...errors(400, 401, 403, 502, 503, 504),
          },
        },
      },
      "/api/v1/admin/tokens": {
        post: {
          summary: "Mint an API token (admin token required)",
          security: [{ bearer: [] }],
          requestBody: { required: true, content: json("MintTokenRequest") },
          responses: { "201": { description: "The token, shown once" }, ...errors(400, 401, 413, 415) },
        },
      },
    },
  };
  return cached;
}
