import { validationProblem } from "@chittyconnect/contract";
import { createRoute, OpenAPIHono, type RouteConfig } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { z } from "zod";
import { requireScope } from "./auth/bearer.ts";
import type { Scope } from "./auth/scopes.ts";
import type { AppEnv } from "./env.ts";

/*
 * Pieces every route file describes its routes with: each route is declared once with `createRoute`
 * and registered with `.openapi(route, handler)`, so the served OpenAPI document cannot miss one.
 */

export type JsonSchema = Record<string, unknown>;

type ValidationTarget = "query" | "param" | "header" | "json" | "form" | "cookie";

const TITLES: Partial<Record<ValidationTarget, string>> = { query: "Invalid query" };

/** What a validation hook receives; generic so a hook fits every route's own input type. */
type ValidationResult<T> = { target: ValidationTarget } & (
  | { success: true; data: T }
  | { success: false; error: z.ZodError }
);

/** A zod failure in a declared parameter becomes the edge's usual 400 `validation_failed` problem. */
export function problemHook(titles: Partial<Record<ValidationTarget, string>> = {}) {
  return <T>(result: ValidationResult<T>): undefined => {
    if (!result.success)
      throw validationProblem(result.error, titles[result.target] ?? TITLES[result.target]);
    return undefined;
  };
}

/** A hook for a route whose declared parameters, when wrong, mean "no such thing" rather than 400. */
export function notFoundHook(problem: () => Error, titles: Partial<Record<ValidationTarget, string>> = {}) {
  const otherwise = problemHook(titles);
  return <T>(result: ValidationResult<T>): undefined => {
    if (!result.success && result.target === "param") throw problem();
    return otherwise(result);
  };
}

/** `createRoute` with the tag that groups a capability's operations in the document and at /docs. */
export const taggedRoute =
  (tag: string) =>
  <R extends Omit<RouteConfig, "tags">>(route: R) =>
    createRoute({ tags: [tag], ...route });

/** A sub-app whose routes join the OpenAPI document when it is mounted with `.route()`. */
export const openApiApp = () => new OpenAPIHono<AppEnv>({ defaultHook: problemHook() });

// JSON Schema 2020-12 is OpenAPI 3.1's dialect. Request bodies are described as clients send them
// (before transforms), responses as produced. `$schema` belongs to standalone schemas only.
const TARGET = { target: "draft-2020-12", unrepresentable: "any" } as const;

/**
 * z.json() is recursive, so zod writes it as a local `$defs` entry whose `#/$defs/…` reference means
 * nothing once the schema sits inside the OpenAPI document: every such entry becomes this one component.
 */
const JSON_VALUE_REF = "#/components/schemas/JsonValue";
const { $schema: _, ...jsonValue } = z.toJSONSchema(z.json(), TARGET);
const JSON_VALUE_SHAPE = JSON.stringify(jsonValue);
export const JSON_VALUE_SCHEMA: JsonSchema = JSON.parse(
  JSON_VALUE_SHAPE.replaceAll('"#"', JSON.stringify(JSON_VALUE_REF)),
);

function jsonSchema(schema: z.ZodType, io: "input" | "output"): JsonSchema {
  const { $schema: _, $defs, ...rest } = z.toJSONSchema(schema, { io, ...TARGET });
  let text = JSON.stringify(rest);
  for (const [name, definition] of Object.entries($defs ?? {})) {
    const ref = JSON.stringify(`#/$defs/${name}`);
    if (JSON.stringify(definition).replaceAll(ref, '"#"') !== JSON_VALUE_SHAPE) {
      throw new Error(`the recursive schema ${name} needs a component of its own`);
    }
    text = text.replaceAll(ref, JSON.stringify(JSON_VALUE_REF));
  }
  return JSON.parse(text);
}
export const input = (schema: z.ZodType): JsonSchema => jsonSchema(schema, "input");
export const output = (schema: z.ZodType): JsonSchema => jsonSchema(schema, "output");

/**
 * A JSON request body of this shape, for the document only: the handler reads it with
 * `readJsonBody`, which checks type, size and syntax before the shape (415, 413, 400 in that order).
 * A plain JSON Schema (not a zod schema) is what keeps @hono/zod-openapi from buffering it first.
 * An example is parsed by the schema here, so a stale one fails at start-up, not in a reader's hands.
 */
export const jsonBody = (schema: z.ZodType, options: { required?: boolean; example?: unknown } = {}) => ({
  required: options.required ?? true,
  content: {
    "application/json": {
      schema: input(schema),
      ...(options.example === undefined ? {} : { example: schema.parse(options.example) }),
    },
  },
});

/** A success answer, with a JSON body of this shape when it has one. */
export const reply = (description: string, schema?: z.ZodType) => ({
  description,
  ...(schema ? { content: { "application/json": { schema: output(schema) } } } : {}),
});

/** An answer whose body is bytes of any type. */
const BYTES: JsonSchema = { type: "string", contentMediaType: "application/octet-stream" };
export const binaryReply = (description: string) => ({ description, content: { "*/*": { schema: BYTES } } });

/**
 * A request body of raw bytes, read as a stream by the handler: a plain JSON Schema again, so the
 * router never buffers it.
 */
export const binaryBody = (mediaType = "*/*") => ({
  required: true,
  content: { [mediaType]: { schema: BYTES } },
});

const PROBLEM_REF = { $ref: "#/components/schemas/Problem" };

/** The problem+json answers an operation can give, by status. */
export const problems = (...statuses: number[]) =>
  Object.fromEntries(
    statuses.map((status) => [
      String(status),
      { description: "Problem (RFC 9457)", content: { "application/problem+json": { schema: PROBLEM_REF } } },
    ]),
  );

/** A header the handler reads itself, documented but not validated by the router. */
export const headerParameter = (
  name: string,
  description: string,
  schema: JsonSchema = { type: "string" },
) => ({
  name,
  in: "header" as const,
  required: false,
  description,
  schema,
});

/**
 * The scope check and its documentation from one list: any one of the scopes suffices. OpenAPI 3.1
 * allows role names in a non-OAuth security requirement, so each alternative is `{ bearer: [scope] }`.
 */
export function scoped(...scopes: [Scope, ...Scope[]]): {
  middleware: MiddlewareHandler<AppEnv>;
  security: Record<string, string[]>[];
} {
  return { middleware: requireScope(...scopes), security: scopes.map((scope) => ({ bearer: [scope] })) };
}

/** Routes that need no bearer token (their own signature, a presigned token, or none). */
export const PUBLIC: Record<string, string[]>[] = [];
