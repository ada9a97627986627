/** The edge's OpenAPI document with its parts that depend on where it was fetched (`servers`) removed. */
export interface OpenApiDocument {
  openapi: string;
  paths: Record<string, unknown>;
  components?: { schemas?: Record<string, unknown>; [member: string]: unknown };
  [member: string]: unknown;
}

/**
 * The document as `client/openapi.json` keeps it: `servers` names the edge that answered (a port that
 * changes per run), so it is dropped; everything else is compared byte for byte.
 */
export function normalizeDocument(served: unknown): OpenApiDocument {
  if (typeof served !== "object" || served === null || !("paths" in served) || !("openapi" in served)) {
    throw new Error("not an OpenAPI document (no openapi or paths member)");
  }
  const { servers: _servers, ...rest } = served as OpenApiDocument;
  return rest;
}
