import { z } from "zod";

/** Pieces every part of the edge's OpenAPI document is built from, so each capability describes itself alike. */
export type JsonSchema = Record<string, unknown>;

// Request bodies are described as clients send them (before transforms), responses as produced.
export const input = (schema: z.ZodType): JsonSchema =>
  z.toJSONSchema(schema, { io: "input", target: "openapi-3.0" });
export const output = (schema: z.ZodType): JsonSchema =>
  z.toJSONSchema(schema, { io: "output", target: "openapi-3.0" });

/** A required JSON request body of this shape. */
export const jsonBody = (schema: z.ZodType) => ({
  required: true,
  content: { "application/json": { schema: input(schema) } },
});

/** A success answer, with a JSON body of this shape when it has one. */
export const reply = (description: string, schema?: z.ZodType) => ({
  description,
  ...(schema ? { content: { "application/json": { schema: output(schema) } } } : {}),
});

/** The problem+json answers an operation can give, by status. */
export const problems = (...statuses: number[]) =>
  Object.fromEntries(
    statuses.map((status) => [
      String(status),
      {
        description: "Problem",
        content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } },
      },
    ]),
  );

/** Each member of a query schema as an OpenAPI query parameter. */
export function queryParameters(schema: z.ZodType) {
  const json = input(schema) as { properties?: Record<string, object>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, property]) => ({
    name,
    in: "query",
    required: json.required?.includes(name) ?? false,
    schema: property,
  }));
}
