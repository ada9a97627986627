import { z } from "zod";
import {
  AddDecisionRequestSchema,
  AddMessageRequestSchema,
  ContextEntrySchema,
  ContextPageSchema,
  CreateSessionRequestSchema,
  DecisionListQuerySchema,
  DecisionPageSchema,
  DecisionSchema,
  MessagePageSchema,
  MessageSchema,
  PageQuerySchema,
  PutContextRequestSchema,
  SessionEventSchema,
  SessionListQuerySchema,
  SessionPageSchema,
  SessionSchema,
  SnapshotSchema,
  SocketQuerySchema,
  TicketRequestSchema,
  TicketResponseSchema,
  UpdateSessionRequestSchema,
} from "./schemas.ts";

type JsonSchema = Record<string, unknown>;
const schema = (s: z.ZodType, io: "input" | "output"): JsonSchema =>
  z.toJSONSchema(s, { io, target: "openapi-3.0" });
const body = (s: z.ZodType) => ({
  required: true,
  content: { "application/json": { schema: schema(s, "input") } },
});
const reply = (description: string, s?: z.ZodType) => ({
  description,
  ...(s ? { content: { "application/json": { schema: schema(s, "output") } } } : {}),
});
const problems = (...statuses: number[]) =>
  Object.fromEntries(
    statuses.map((status) => [
      String(status),
      {
        description: "Problem",
        content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } },
      },
    ]),
  );
const path = (name: string) => ({ name, in: "path", required: true, schema: { type: "string" } });
const header = (name: string, description: string) => ({
  name,
  in: "header",
  required: false,
  description,
  schema: { type: "string" },
});
function query(s: z.ZodType) {
  const json = schema(s, "input") as { properties?: Record<string, object>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, property]) => ({
    name,
    in: "query",
    required: json.required?.includes(name) ?? false,
    schema: property,
  }));
}
const scope = (name: string) => [{ bearer: [name] }];
const fallback =
  "Answered from the owner's last KV snapshot when its object is unreachable (header x-sessions-source: kv-snapshot).";
const READ = scope("sessions:read");
const WRITE = scope("sessions:write");

/** The sessions part of the OpenAPI document, generated from the zod schemas above. */
export function sessionPaths(): Record<string, object> {
  return {
    "/api/v1/sessions": {
      post: {
        summary: "Create a session (id chosen by the client or generated; an existing id is a 409)",
        security: WRITE,
        requestBody: body(CreateSessionRequestSchema),
        responses: {
          "201": reply("The session", SessionSchema),
          ...problems(400, 401, 403, 409, 413, 415, 503),
        },
      },
      get: {
        summary: "List sessions, oldest first",
        description: fallback,
        security: READ,
        parameters: query(SessionListQuerySchema),
        responses: { "200": reply("A page of sessions", SessionPageSchema), ...problems(400, 401, 403, 503) },
      },
    },
    "/api/v1/sessions/{id}": {
      parameters: [path("id")],
      get: {
        summary: "Read a session (ETag: its version)",
        description: fallback,
        security: READ,
        responses: { "200": reply("The session", SessionSchema), ...problems(400, 401, 403, 404, 503) },
      },
      patch: {
        summary: "Change title, metadata or status",
        security: WRITE,
        parameters: [header("If-Match", 'The version last read, e.g. "3"; a stale one is a 412')],
        requestBody: body(UpdateSessionRequestSchema),
        responses: {
          "200": reply("The session", SessionSchema),
          ...problems(400, 401, 403, 404, 412, 413, 415, 503),
        },
      },
      delete: {
        summary: "Delete a session and its messages",
        security: WRITE,
        responses: { "204": reply("Deleted"), ...problems(400, 401, 403, 404, 503) },
      },
    },
    "/api/v1/sessions/{id}/messages": {
      parameters: [path("id")],
      post: {
        summary: "Append a message (the first user message titles an untitled session)",
        security: WRITE,
        requestBody: body(AddMessageRequestSchema),
        responses: {
          "201": reply("The message", MessageSchema),
          ...problems(400, 401, 403, 404, 409, 413, 415, 503),
        },
      },
      get: {
        summary: "List a session's messages in order",
        description: fallback,
        security: READ,
        parameters: query(PageQuerySchema),
        responses: {
          "200": reply("A page of messages", MessagePageSchema),
          ...problems(400, 401, 403, 404, 503),
        },
      },
    },
    "/api/v1/context": {
      get: {
        summary: "List the owner's context keys",
        description: fallback,
        security: READ,
        parameters: query(PageQuerySchema),
        responses: { "200": reply("A page of entries", ContextPageSchema), ...problems(400, 401, 403, 503) },
      },
    },
    "/api/v1/context/{key}": {
      parameters: [path("key")],
      put: {
        summary: "Set a context value (201 when new, 200 when replaced)",
        security: WRITE,
        requestBody: body(PutContextRequestSchema),
        responses: {
          "200": reply("The entry", ContextEntrySchema),
          ...problems(400, 401, 403, 409, 413, 415, 503),
        },
      },
      get: {
        summary: "Read a context value",
        description: fallback,
        security: READ,
        responses: { "200": reply("The entry", ContextEntrySchema), ...problems(400, 401, 403, 404, 503) },
      },
      delete: {
        summary: "Delete a context value",
        security: WRITE,
        responses: { "204": reply("Deleted"), ...problems(400, 401, 403, 404, 503) },
      },
    },
    "/api/v1/decisions": {
      post: {
        summary: "Log a decision",
        security: WRITE,
        requestBody: body(AddDecisionRequestSchema),
        responses: {
          "201": reply("The decision", DecisionSchema),
          ...problems(400, 401, 403, 404, 409, 413, 415, 503),
        },
      },
      get: {
        summary: "List decisions in order, optionally of one session",
        description: fallback,
        security: READ,
        parameters: query(DecisionListQuerySchema),
        responses: {
          "200": reply("A page of decisions", DecisionPageSchema),
          ...problems(400, 401, 403, 503),
        },
      },
    },
    "/api/v1/sessions/export": {
      get: {
        summary: "Everything the owner holds, as one snapshot",
        description: fallback,
        security: READ,
        responses: { "200": reply("The snapshot", SnapshotSchema), ...problems(401, 403, 503) },
      },
    },
    "/api/v1/sessions/import": {
      post: {
        summary: "Restore a snapshot for its owner (admin scope; ?replace=true overwrites existing state)",
        security: scope("admin"),
        parameters: [
          {
            name: "replace",
            in: "query",
            required: false,
            schema: { type: "string", enum: ["true", "false"] },
          },
        ],
        requestBody: body(SnapshotSchema),
        responses: { "200": reply("What was restored"), ...problems(400, 401, 403, 409, 413, 415, 503) },
      },
    },
    "/api/v1/sessions/ws-ticket": {
      post: {
        summary: "A single-use ticket, valid 30 s, for opening the WebSocket without headers",
        security: READ,
        requestBody: { required: false, content: body(TicketRequestSchema).content },
        responses: {
          "201": reply("The ticket and the URL to open", TicketResponseSchema),
          ...problems(400, 401, 403, 409, 415, 503),
        },
      },
    },
    "/api/v1/sessions/ws": {
      get: {
        summary: "WebSocket of the owner's events ({type, data, at, seq}); send 'ping' to get 'pong'",
        description: `Authenticate with the bearer header or ?ticket=. Events: ${JSON.stringify(schema(SessionEventSchema, "output"))}`,
        security: [...READ, {}],
        parameters: query(SocketQuerySchema),
        responses: { "101": reply("Switching protocols"), ...problems(400, 401, 403, 404, 409, 426, 503) },
      },
    },
  };
}
