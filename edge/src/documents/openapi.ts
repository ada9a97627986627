import { z } from "zod";
import { type JsonSchema, jsonBody, problems, queryParameters, reply } from "../openapi-parts.ts";
import {
  AccessLogEntrySchema,
  DocumentSchema,
  GrantRequestSchema,
  GrantSchema,
  MultipartCreatedSchema,
  MultipartCreateSchema,
  MultipartPartsSchema,
  PatchDocumentSchema,
  PresignRequestSchema,
  PresignResponseSchema,
  RelationshipRequestSchema,
  RelationshipSchema,
  SearchQuerySchema,
  SearchResultSchema,
  StatsSchema,
  VersionListSchema,
} from "./schemas.ts";

const id = { name: "id", in: "path", required: true, schema: { type: "string", format: "uuid" } };
const uploadId = { name: "uploadId", in: "path", required: true, schema: { type: "string", format: "uuid" } };
const read = [{ bearer: ["documents:read"] }, { bearer: ["documents:write"] }];
const write = [{ bearer: ["documents:write"] }];
const binary = { schema: { type: "string", format: "binary" } };

/** The documents API's OpenAPI paths, merged into the edge's document by openapi.ts. */
export function documentPaths(): JsonSchema {
  const base = "/api/v1/documents";
  return {
    [base]: {
      get: {
        summary: "Search own documents (or those shared with the caller) with FTS5, ranked, with snippets",
        security: read,
        parameters: queryParameters(SearchQuerySchema),
        responses: { "200": reply("A page of hits", SearchResultSchema), ...problems(400, 401, 403) },
      },
    },
    [`${base}/upload`]: {
      post: {
        summary: "Upload a document (multipart/form-data: type, metadata, tags, name?, then file last)",
        security: write,
        requestBody: {
          required: true,
          content: {
            "multipart/form-data": {
              schema: {
                type: "object",
                required: ["type", "file"],
                properties: {
                  type: { type: "string", enum: ["evidence", "cases", "attachments"] },
                  metadata: { type: "string", description: "JSON object" },
                  tags: { type: "string", description: "comma-separated" },
                  name: { type: "string" },
                  file: { type: "string", format: "binary" },
                },
              },
            },
          },
        },
        responses: {
          "201": reply("The stored document", DocumentSchema),
          ...problems(400, 401, 403, 411, 413, 415, 503, 507),
        },
      },
    },
    [`${base}/stats`]: {
      get: {
        summary: "Counts, bytes and quota use",
        security: read,
        responses: { "200": reply("Stats", StatsSchema), ...problems(401, 403) },
      },
    },
    [`${base}/multipart`]: {
      post: {
        summary: "Start a multipart upload (reserves the whole size)",
        security: write,
        requestBody: jsonBody(MultipartCreateSchema),
        responses: {
          "201": reply("Upload started", MultipartCreatedSchema),
          ...problems(400, 401, 403, 413, 415, 507),
        },
      },
    },
    [`${base}/multipart/{uploadId}`]: {
      get: {
        summary: "The upload's received parts (to resume)",
        security: write,
        parameters: [uploadId],
        responses: { "200": reply("Parts", MultipartPartsSchema), ...problems(401, 403, 404) },
      },
      delete: {
        summary: "Abort the upload",
        security: write,
        parameters: [uploadId],
        responses: { "204": reply("Aborted"), ...problems(401, 403, 404) },
      },
    },
    [`${base}/multipart/{uploadId}/parts/{n}`]: {
      put: {
        summary: "Upload part n (exactly partSize bytes, the last one the remainder)",
        security: write,
        parameters: [
          uploadId,
          { name: "n", in: "path", required: true, schema: { type: "integer", minimum: 1 } },
        ],
        requestBody: { required: true, content: { "application/octet-stream": binary } },
        responses: { "200": reply("Part stored"), ...problems(400, 401, 403, 404, 411, 413) },
      },
    },
    [`${base}/multipart/{uploadId}/complete`]: {
      post: {
        summary: "Finish the upload",
        security: write,
        parameters: [uploadId],
        responses: { "201": reply("The stored document", DocumentSchema), ...problems(401, 403, 404, 409) },
      },
    },
    [`${base}/presigned/{token}`]: {
      get: {
        summary: "Download through a presigned link (no bearer token); Range supported",
        parameters: [{ name: "token", in: "path", required: true, schema: { type: "string" } }],
        responses: {
          "200": { description: "The bytes", content: { "*/*": binary } },
          "206": { description: "A range" },
          ...problems(403, 416),
        },
      },
    },
    [`${base}/{id}`]: {
      get: {
        summary: "Metadata",
        security: read,
        parameters: [id],
        responses: { "200": reply("The document", DocumentSchema), ...problems(401, 403, 404) },
      },
      patch: {
        summary: "Change name, metadata or tags (If-Match optional)",
        security: write,
        parameters: [id],
        requestBody: jsonBody(PatchDocumentSchema),
        responses: {
          "200": reply("The document", DocumentSchema),
          ...problems(400, 401, 403, 404, 412, 415),
        },
      },
      delete: {
        summary: "Delete every version, in R2 and D1",
        security: write,
        parameters: [id],
        responses: { "204": reply("Deleted"), ...problems(401, 403, 404, 503) },
      },
    },
    [`${base}/{id}/download`]: {
      get: {
        summary: "Stream a version (Range, If-None-Match, ?version=)",
        security: read,
        parameters: [
          id,
          { name: "version", in: "query", required: false, schema: { type: "integer", minimum: 1 } },
        ],
        responses: {
          "200": { description: "The bytes", content: { "*/*": binary } },
          "206": { description: "A range" },
          "304": { description: "Not modified" },
          ...problems(400, 401, 403, 404, 416, 503),
        },
      },
    },
    [`${base}/{id}/content`]: {
      put: {
        summary: "Replace the content as a new version (If-Match required)",
        security: write,
        parameters: [id],
        requestBody: { required: true, content: { "*/*": binary } },
        responses: {
          "200": reply("The document", DocumentSchema),
          ...problems(401, 403, 404, 411, 412, 413, 415, 428, 503, 507),
        },
      },
    },
    [`${base}/{id}/versions`]: {
      get: {
        summary: "Versions, newest first",
        security: read,
        parameters: [id],
        responses: { "200": reply("Versions", VersionListSchema), ...problems(401, 403, 404) },
      },
    },
    [`${base}/{id}/presign`]: {
      post: {
        summary: "A download URL that works without a token until it expires (owner only)",
        security: write,
        parameters: [id],
        requestBody: jsonBody(PresignRequestSchema),
        responses: { "201": reply("The URL", PresignResponseSchema), ...problems(400, 401, 403, 404, 415) },
      },
    },
    [`${base}/{id}/permissions`]: {
      get: {
        summary: "Grants (owner only)",
        security: read,
        parameters: [id],
        responses: {
          "200": reply("Grants", z.object({ grants: z.array(GrantSchema) })),
          ...problems(401, 403, 404),
        },
      },
      post: {
        summary: "Grant read or write to another owner",
        security: write,
        parameters: [id],
        requestBody: jsonBody(GrantRequestSchema),
        responses: { "201": reply("The grant", GrantSchema), ...problems(400, 401, 403, 404, 415) },
      },
    },
    [`${base}/{id}/permissions/{grantee}`]: {
      delete: {
        summary: "Revoke a grant",
        security: write,
        parameters: [id, { name: "grantee", in: "path", required: true, schema: { type: "string" } }],
        responses: { "204": reply("Revoked"), ...problems(401, 403, 404) },
      },
    },
    [`${base}/{id}/relationships`]: {
      get: {
        summary: "Links to and from the document",
        security: read,
        parameters: [id],
        responses: {
          "200": reply("Links", z.object({ relationships: z.array(RelationshipSchema) })),
          ...problems(401, 403, 404),
        },
      },
      post: {
        summary: "Link to another visible document",
        security: write,
        parameters: [id],
        requestBody: jsonBody(RelationshipRequestSchema),
        responses: { "201": reply("The link", RelationshipSchema), ...problems(400, 401, 403, 404, 415) },
      },
    },
    [`${base}/{id}/relationships/{targetId}`]: {
      delete: {
        summary: "Remove a link (?kind=)",
        security: write,
        parameters: [
          id,
          { name: "targetId", in: "path", required: true, schema: { type: "string", format: "uuid" } },
          { name: "kind", in: "query", required: true, schema: { type: "string" } },
        ],
        responses: { "204": reply("Removed"), ...problems(400, 401, 403, 404) },
      },
    },
    [`${base}/{id}/access-log`]: {
      get: {
        summary: "Who read, wrote, shared or deleted it (owner only), newest first",
        security: read,
        parameters: [
          id,
          { name: "before", in: "query", schema: { type: "integer" } },
          { name: "limit", in: "query", schema: { type: "integer" } },
        ],
        responses: {
          "200": reply(
            "Entries",
            z.object({ entries: z.array(AccessLogEntrySchema), nextBefore: z.number().nullable() }),
          ),
          ...problems(400, 401, 403, 404),
        },
      },
    },
  };
}
