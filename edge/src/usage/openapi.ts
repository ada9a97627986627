import { problems, queryParameters, reply } from "../openapi-parts.ts";
import { UsageQuerySchema, UsageReportSchema } from "./schemas.ts";

/** The usage part of the OpenAPI document, generated from the zod schemas. */
export function usagePaths(): Record<string, object> {
  return {
    "/api/v1/usage": {
      get: {
        summary: "The caller's usage: daily buckets and totals for a range of days (UTC)",
        description:
          "Requests by route class (429s included, also counted as `limited`), bytes in and out, successful " +
          "credential provisions; plus the documents' bytes and sessions held now. Ranges up to 366 days; " +
          "default the last 30.",
        security: [{ bearer: ["usage:read"] }],
        parameters: queryParameters(UsageQuerySchema),
        responses: {
          "200": reply("The caller's usage", UsageReportSchema),
          ...problems(400, 401, 403, 429),
        },
      },
    },
  };
}
