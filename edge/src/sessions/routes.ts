import { z } from "zod";
import { readJsonBody } from "../json-body.ts";
import {
  headerParameter,
  jsonBody,
  openApiApp,
  problemHook,
  problems,
  reply,
  scoped,
  taggedRoute,
} from "../openapi-parts.ts";
import { LIMITS } from "./limits.ts";
import type { Page } from "./owner-sessions.ts";
import { unwrap } from "./result.ts";
import {
  AddDecisionRequestSchema,
  AddMessageRequestSchema,
  ContextEntrySchema,
  ContextKeySchema,
  ContextPageSchema,
  CreateSessionRequestSchema,
  DecisionListQuerySchema,
  DecisionPageSchema,
  DecisionSchema,
  MessagePageSchema,
  MessageSchema,
  PageQuerySchema,
  PutContextRequestSchema,
  SessionIdSchema,
  SessionListQuerySchema,
  SessionPageSchema,
  SessionSchema,
  SnapshotSchema,
  TicketRequestSchema,
  TicketResponseSchema,
  UpdateSessionRequestSchema,
} from "./schemas.ts";
import { issueTicket } from "./socket.ts";
import { callStore, readWithFallback } from "./store.ts";

const NO_STORE = { "cache-control": "no-store" };
const owner = (c: { get(key: "auth"): { owner: string } }) => c.get("auth").owner;

/** `If-Match: "3"` → 3; `*` or absent → no check; anything else matches no version (412). */
function ifMatchVersion(header: string | undefined): number | undefined {
  if (header === undefined || header.trim() === "*") return undefined;
  const match = /^\s*"(\d{1,12})"\s*$/.exec(header);
  return match ? Number(match[1]) : -1;
}

function pageBody<T>(name: string, page: Page<T>) {
  return { [name]: page.items, ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
}

const read = scoped("sessions:read");
const write = scoped("sessions:write");
const fallback =
  "Answered from the owner's last KV snapshot when its object is unreachable (header x-sessions-source: kv-snapshot).";
const SessionParams = z.object({ id: SessionIdSchema });
const ContextParams = z.object({ key: ContextKeySchema });
const sessionHook = problemHook({ param: "Invalid session id" });
const contextHook = problemHook({ param: "Invalid context key" });

const op = taggedRoute("sessions");

const createSession = op({
  method: "post",
  path: "/sessions",
  summary: "Create a session (id chosen by the client or generated; an existing id is a 409)",
  ...write,
  request: {
    body: jsonBody(CreateSessionRequestSchema, { example: { id: "support-42", title: "Support chat" } }),
  },
  responses: { 201: reply("The session", SessionSchema), ...problems(400, 401, 403, 409, 413, 415, 503) },
});
const listSessions = op({
  method: "get",
  path: "/sessions",
  summary: "List sessions, oldest first",
  description: fallback,
  ...read,
  request: { query: SessionListQuerySchema },
  responses: { 200: reply("A page of sessions", SessionPageSchema), ...problems(400, 401, 403, 503) },
});
const exportSessions = op({
  method: "get",
  path: "/sessions/export",
  summary: "Everything the owner holds, as one snapshot",
  description: fallback,
  ...read,
  responses: { 200: reply("The snapshot", SnapshotSchema), ...problems(401, 403, 503) },
});
const importSessions = op({
  method: "post",
  path: "/sessions/import",
  summary: "Restore a snapshot for its owner (admin scope; ?replace=true overwrites existing state)",
  ...scoped("admin"),
  // Read by hand: anything but `true` means no replace, as it always has.
  parameters: [
    { name: "replace", in: "query", required: false, schema: { type: "string", enum: ["true", "false"] } },
  ],
  request: { body: jsonBody(SnapshotSchema) },
  responses: {
    200: reply("What was restored", z.object({ owner: z.string(), imported: z.unknown() })),
    ...problems(400, 401, 403, 409, 413, 415, 503),
  },
});
const wsTicket = op({
  method: "post",
  path: "/sessions/ws-ticket",
  summary: "A single-use ticket, valid 30 s, for opening the WebSocket without headers",
  ...read,
  request: { body: jsonBody(TicketRequestSchema, { required: false }) },
  responses: {
    201: reply("The ticket and the URL to open", TicketResponseSchema),
    ...problems(400, 401, 403, 409, 415, 503),
  },
});
const getSession = op({
  method: "get",
  path: "/sessions/{id}",
  summary: "Read a session (ETag: its version)",
  description: fallback,
  ...read,
  request: { params: SessionParams },
  responses: { 200: reply("The session", SessionSchema), ...problems(400, 401, 403, 404, 503) },
});
const patchSession = op({
  method: "patch",
  path: "/sessions/{id}",
  summary: "Change title, metadata or status",
  ...write,
  parameters: [headerParameter("If-Match", 'The version last read, e.g. "3"; a stale one is a 412')],
  request: { params: SessionParams, body: jsonBody(UpdateSessionRequestSchema) },
  responses: {
    200: reply("The session", SessionSchema),
    ...problems(400, 401, 403, 404, 412, 413, 415, 503),
  },
});
const deleteSession = op({
  method: "delete",
  path: "/sessions/{id}",
  summary: "Delete a session and its messages",
  ...write,
  request: { params: SessionParams },
  responses: { 204: reply("Deleted"), ...problems(400, 401, 403, 404, 503) },
});
const addMessage = op({
  method: "post",
  path: "/sessions/{id}/messages",
  summary: "Append a message (the first user message titles an untitled session)",
  ...write,
  request: { params: SessionParams, body: jsonBody(AddMessageRequestSchema) },
  responses: {
    201: reply("The message", MessageSchema),
    ...problems(400, 401, 403, 404, 409, 413, 415, 503),
  },
});
const listMessages = op({
  method: "get",
  path: "/sessions/{id}/messages",
  summary: "List a session's messages in order",
  description: fallback,
  ...read,
  request: { params: SessionParams, query: PageQuerySchema },
  responses: { 200: reply("A page of messages", MessagePageSchema), ...problems(400, 401, 403, 404, 503) },
});
const listContext = op({
  method: "get",
  path: "/context",
  summary: "List the owner's context keys",
  description: fallback,
  ...read,
  request: { query: PageQuerySchema },
  responses: { 200: reply("A page of entries", ContextPageSchema), ...problems(400, 401, 403, 503) },
});
const putContext = op({
  method: "put",
  path: "/context/{key}",
  summary: "Set a context value (201 when new, 200 when replaced)",
  ...write,
  request: { params: ContextParams, body: jsonBody(PutContextRequestSchema) },
  responses: {
    200: reply("The entry, replaced", ContextEntrySchema),
    201: reply("The entry, new", ContextEntrySchema),
    ...problems(400, 401, 403, 409, 413, 415, 503),
  },
});
const getContext = op({
  method: "get",
  path: "/context/{key}",
  summary: "Read a context value",
  description: fallback,
  ...read,
  request: { params: ContextParams },
  responses: { 200: reply("The entry", ContextEntrySchema), ...problems(400, 401, 403, 404, 503) },
});
const deleteContext = op({
  method: "delete",
  path: "/context/{key}",
  summary: "Delete a context value",
  ...write,
  request: { params: ContextParams },
  responses: { 204: reply("Deleted"), ...problems(400, 401, 403, 404, 503) },
});
const addDecision = op({
  method: "post",
  path: "/decisions",
  summary: "Log a decision",
  ...write,
  request: { body: jsonBody(AddDecisionRequestSchema) },
  responses: {
    201: reply("The decision", DecisionSchema),
    ...problems(400, 401, 403, 404, 409, 413, 415, 503),
  },
});
const listDecisions = op({
  method: "get",
  path: "/decisions",
  summary: "List decisions in order, optionally of one session",
  description: fallback,
  ...read,
  request: { query: DecisionListQuerySchema },
  responses: { 200: reply("A page of decisions", DecisionPageSchema), ...problems(400, 401, 403, 503) },
});

/** Routes under /api/v1 behind the bearer check; the WebSocket route is mounted on its own. */
export const sessionRoutes = openApiApp()
  .openapi(createSession, async (c) => {
    const input = await readJsonBody(c.req.raw, CreateSessionRequestSchema);
    const session = unwrap(await callStore(c, (b) => b.createSession(owner(c), input)));
    return c.json(session, 201, {
      ...NO_STORE,
      etag: `"${session.version}"`,
      location: `/api/v1/sessions/${session.id}`,
    });
  })
  .openapi(listSessions, async (c) => {
    const query = c.req.valid("query");
    const { value, headers } = await readWithFallback(c, (b) => b.listSessions(owner(c), query));
    return c.json(pageBody("sessions", value), 200, { ...NO_STORE, ...headers });
  })
  .openapi(exportSessions, async (c) => {
    const { value, headers } = await readWithFallback(c, (b) => b.exportSnapshot(owner(c)));
    return c.json(value, 200, { ...NO_STORE, ...headers });
  })
  .openapi(importSessions, async (c) => {
    const snapshot = await readJsonBody(c.req.raw, SnapshotSchema, LIMITS.importBodyBytes);
    const replace = c.req.query("replace") === "true";
    const imported = unwrap(
      await callStore(c, (b) => b.importSnapshot(snapshot.owner, snapshot, replace), snapshot.owner),
    );
    return c.json({ owner: snapshot.owner, imported }, 200, NO_STORE);
  })
  .openapi(wsTicket, async (c) => {
    const input = c.req.header("content-type") ? await readJsonBody(c.req.raw, TicketRequestSchema) : {};
    return c.json(await issueTicket(c, input.sessionId ?? null), 201, NO_STORE);
  })
  .openapi(
    getSession,
    async (c) => {
      const { id } = c.req.valid("param");
      const { value, headers } = await readWithFallback(c, (b) => b.getSession(owner(c), id));
      return c.json(value, 200, { ...NO_STORE, ...headers, etag: `"${value.version}"` });
    },
    sessionHook,
  )
  .openapi(
    patchSession,
    async (c) => {
      const { id } = c.req.valid("param");
      const patch = await readJsonBody(c.req.raw, UpdateSessionRequestSchema);
      const expected = ifMatchVersion(c.req.header("if-match"));
      const session = unwrap(await callStore(c, (b) => b.updateSession(owner(c), id, patch, expected)));
      return c.json(session, 200, { ...NO_STORE, etag: `"${session.version}"` });
    },
    sessionHook,
  )
  .openapi(
    deleteSession,
    async (c) => {
      const { id } = c.req.valid("param");
      unwrap(await callStore(c, (b) => b.deleteSession(owner(c), id)));
      return c.body(null, 204);
    },
    sessionHook,
  )
  .openapi(
    addMessage,
    async (c) => {
      const { id } = c.req.valid("param");
      const input = await readJsonBody(c.req.raw, AddMessageRequestSchema);
      const message = unwrap(await callStore(c, (b) => b.addMessage(owner(c), id, input)));
      return c.json(message, 201, NO_STORE);
    },
    sessionHook,
  )
  .openapi(
    listMessages,
    async (c) => {
      const { id } = c.req.valid("param");
      const query = c.req.valid("query");
      const { value, headers } = await readWithFallback(c, (b) => b.listMessages(owner(c), id, query));
      return c.json(pageBody("messages", value), 200, { ...NO_STORE, ...headers });
    },
    sessionHook,
  )
  .openapi(listContext, async (c) => {
    const query = c.req.valid("query");
    const { value, headers } = await readWithFallback(c, (b) => b.listContext(owner(c), query));
    return c.json(pageBody("entries", value), 200, { ...NO_STORE, ...headers });
  })
  .openapi(
    putContext,
    async (c) => {
      const { key } = c.req.valid("param");
      const { value } = await readJsonBody(c.req.raw, PutContextRequestSchema);
      const { entry, created } = unwrap(await callStore(c, (b) => b.putContext(owner(c), key, value)));
      return c.json(entry, created ? 201 : 200, NO_STORE);
    },
    contextHook,
  )
  .openapi(
    getContext,
    async (c) => {
      const { key } = c.req.valid("param");
      const { value, headers } = await readWithFallback(c, (b) => b.getContext(owner(c), key));
      return c.json(value, 200, { ...NO_STORE, ...headers });
    },
    contextHook,
  )
  .openapi(
    deleteContext,
    async (c) => {
      const { key } = c.req.valid("param");
      unwrap(await callStore(c, (b) => b.deleteContext(owner(c), key)));
      return c.body(null, 204);
    },
    contextHook,
  )
  .openapi(addDecision, async (c) => {
    const input = await readJsonBody(c.req.raw, AddDecisionRequestSchema);
    const decision = unwrap(await callStore(c, (b) => b.addDecision(owner(c), input)));
    return c.json(decision, 201, NO_STORE);
  })
  .openapi(listDecisions, async (c) => {
    const query = c.req.valid("query");
    const { value, headers } = await readWithFallback(c, (b) => b.listDecisions(owner(c), query));
    return c.json(pageBody("decisions", value), 200, { ...NO_STORE, ...headers });
  });
