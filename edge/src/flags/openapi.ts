import { jsonBody, problems, reply } from "../openapi-parts.ts";
import { ConfigReportSchema } from "./config-report.ts";
import { FLAG_NAMES } from "./definitions.ts";
import { FlagListResponseSchema, FlagViewSchema, PutFlagRequestSchema } from "./routes.ts";

const ADMIN = [{ bearer: [] }];
const name = { name: "name", in: "path", required: true, schema: { type: "string", enum: [...FLAG_NAMES] } };

/** The feature-flag and configuration-report part of the OpenAPI document (admin token). */
export function flagPaths() {
  return {
    "/api/v1/admin/flags": {
      get: {
        summary:
          "Every feature flag with its effective value and its source (default or kv) (admin token required)",
        security: ADMIN,
        responses: { "200": reply("The flags", FlagListResponseSchema), ...problems(401, 500) },
      },
    },
    "/api/v1/admin/flags/{name}": {
      parameters: [name],
      get: {
        summary: "One feature flag (admin token required)",
        security: ADMIN,
        responses: { "200": reply("The flag", FlagViewSchema), ...problems(401, 404, 500) },
      },
      put: {
        summary: "Override a flag in KV, optionally for ttlSeconds (at least 60) (admin token required)",
        security: ADMIN,
        requestBody: jsonBody(PutFlagRequestSchema),
        responses: {
          "200": reply("The flag as it now applies", FlagViewSchema),
          ...problems(400, 401, 404, 413, 415, 500),
        },
      },
      delete: {
        summary: "Remove a flag's KV override; its default applies again (admin token required)",
        security: ADMIN,
        responses: { "204": reply("Removed (also when there was none)"), ...problems(401, 404, 500) },
      },
    },
    "/api/v1/admin/config/validate": {
      get: {
        summary:
          "The configuration report: one verdict per section, never a secret's value (admin token required)",
        security: ADMIN,
        responses: { "200": reply("The report", ConfigReportSchema), ...problems(401, 500) },
      },
    },
  };
}
