import { jsonBody, output, problems, queryParameters, reply } from "../openapi-parts.ts";
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

const path = (name: string) => ({ name, in: "path", required: true, schema: { type: "string" } });
const header = (name: string, description: string) => ({
  name,
  in: "header",
  required: false,
  description,
  schema: { type: "string" },
});
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
        requestBody: jsonBody(CreateSessionRequestSchema),
        responses: {
          "201": reply("The session", SessionSchema),
          ...problems(400, 401, 403, 409, 413, 415, 503),
        },
      },
      get: {
        summary: "List sessions, oldest first",
        description: fallback,
        security: READ,
        parameters: queryParameters(SessionListQuerySchema),
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
        requestBody: jsonBody(UpdateSessionRequestSchema),
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
        requestBody: jsonBody(AddMessageRequestSchema),
        responses: {
          "201": reply("The message", MessageSchema),
          ...problems(400, 401, 403, 404, 409, 413, 415, 503),
        },
      },
      get: {
        summary: "List a session's messages in order",
        description: fallback,
        security: READ,
        parameters: queryParameters(PageQuerySchema),
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
        parameters: queryParameters(PageQuerySchema),
        responses: { "200": reply("A page of entries", ContextPageSchema), ...problems(400, 401, 403, 503) },
      },
    },
    "/api/v1/context/{key}": {
      parameters: [path("key")],
      put: {
        summary: "Set a context value (201 when new, 200 when replaced)",
        security: WRITE,
        requestBody: jsonBody(PutContextRequestSchema),
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
        requestBody: jsonBody(AddDecisionRequestSchema),
        responses: {
          "201": reply("The decision", DecisionSchema),
          ...problems(400, 401, 403, 404, 409, 413, 415, 503),
        },
      },
      get: {
        summary: "List decisions in order, optionally of one session",
        description: fallback,
        security: READ,
        parameters: queryParameters(DecisionListQuerySchema),
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
        requestBody: jsonBody(SnapshotSchema),
        responses: { "200": reply("What was restored"), ...problems(400, 401, 403, 409, 413, 415, 503) },
      },
    },
    "/api/v1/sessions/ws-ticket": {
      post: {
        summary: "A single-use ticket, valid 30 s, for opening the WebSocket without headers",
        security: READ,
        requestBody: { required: false, content: jsonBody(TicketRequestSchema).content },
        responses: {
          "201": reply("The ticket and the URL to open", TicketResponseSchema),
          ...problems(400, 401, 403, 409, 415, 503),
        },
      },
    },
    "/api/v1/sessions/ws": {
      get: {
        summary: "WebSocket of the owner's events ({type, data, at, seq}); send 'ping' to get 'pong'",
        description: `Authenticate with the bearer header or ?ticket=. Events: ${JSON.stringify(output(SessionEventSchema))}`,
        security: [...READ, {}],
        parameters: queryParameters(SocketQuerySchema),
        responses: { "101": reply("Switching protocols"), ...problems(400, 401, 403, 404, 409, 426, 503) },
      },
    },
  };
}
