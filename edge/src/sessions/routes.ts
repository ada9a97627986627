import { validationProblem } from "@chittyconnect/contract";
import type { Context } from "hono";
import { Hono } from "hono";
import type { z } from "zod";
import { requireScope } from "../auth/bearer.ts";
import type { AppEnv } from "../env.ts";
import { readJsonBody } from "../json-body.ts";
import { LIMITS } from "./limits.ts";
import type { Page } from "./owner-sessions.ts";
import { unwrap } from "./result.ts";
import {
  AddDecisionRequestSchema,
  AddMessageRequestSchema,
  ContextKeySchema,
  CreateSessionRequestSchema,
  DecisionListQuerySchema,
  PageQuerySchema,
  PutContextRequestSchema,
  SessionIdSchema,
  SessionListQuerySchema,
  SnapshotSchema,
  TicketRequestSchema,
  UpdateSessionRequestSchema,
} from "./schemas.ts";
import { issueTicket } from "./socket.ts";
import { callStore, readWithFallback } from "./store.ts";

type Ctx = Context<AppEnv>;
const NO_STORE = { "cache-control": "no-store" };
const read = requireScope("sessions:read");
const write = requireScope("sessions:write");

function parsed<T>(schema: z.ZodType<T>, value: unknown, title: string): T {
  const result = schema.safeParse(value);
  if (!result.success) throw validationProblem(result.error, title);
  return result.data;
}

const sessionId = (c: Ctx) => parsed(SessionIdSchema, c.req.param("id"), "Invalid session id");
const contextKey = (c: Ctx) => parsed(ContextKeySchema, c.req.param("key"), "Invalid context key");
const owner = (c: Ctx) => c.get("auth").owner;

/** `If-Match: "3"` → 3; `*` or absent → no check; anything else matches no version (412). */
function ifMatchVersion(header: string | undefined): number | undefined {
  if (header === undefined || header.trim() === "*") return undefined;
  const match = /^\s*"(\d{1,12})"\s*$/.exec(header);
  return match ? Number(match[1]) : -1;
}

function pageBody<T>(name: string, page: Page<T>) {
  return { [name]: page.items, ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
}

/** Routes under /api/v1 behind the bearer check; the WebSocket route is mounted on its own. */
export const sessionRoutes = new Hono<AppEnv>()
  .post("/sessions", write, async (c) => {
    const input = await readJsonBody(c.req.raw, CreateSessionRequestSchema);
    const session = unwrap(await callStore(c, (b) => b.createSession(owner(c), input)));
    return c.json(session, 201, {
      ...NO_STORE,
      etag: `"${session.version}"`,
      location: `/api/v1/sessions/${session.id}`,
    });
  })
  .get("/sessions", read, async (c) => {
    const query = parsed(SessionListQuerySchema, c.req.query(), "Invalid query");
    const { value, headers } = await readWithFallback(c, (b) => b.listSessions(owner(c), query));
    return c.json(pageBody("sessions", value), 200, { ...NO_STORE, ...headers });
  })
  .get("/sessions/export", read, async (c) => {
    const { value, headers } = await readWithFallback(c, (b) => b.exportSnapshot(owner(c)));
    return c.json(value, 200, { ...NO_STORE, ...headers });
  })
  .post("/sessions/import", requireScope("admin"), async (c) => {
    const snapshot = await readJsonBody(c.req.raw, SnapshotSchema, LIMITS.importBodyBytes);
    const replace = c.req.query("replace") === "true";
    const imported = unwrap(
      await callStore(c, (b) => b.importSnapshot(snapshot.owner, snapshot, replace), snapshot.owner),
    );
    return c.json({ owner: snapshot.owner, imported }, 200, NO_STORE);
  })
  .post("/sessions/ws-ticket", read, async (c) => {
    const input = c.req.header("content-type") ? await readJsonBody(c.req.raw, TicketRequestSchema) : {};
    return c.json(await issueTicket(c, input.sessionId ?? null), 201, NO_STORE);
  })
  .get("/sessions/:id", read, async (c) => {
    const id = sessionId(c);
    const { value, headers } = await readWithFallback(c, (b) => b.getSession(owner(c), id));
    return c.json(value, 200, { ...NO_STORE, ...headers, etag: `"${value.version}"` });
  })
  .patch("/sessions/:id", write, async (c) => {
    const id = sessionId(c);
    const patch = await readJsonBody(c.req.raw, UpdateSessionRequestSchema);
    const expected = ifMatchVersion(c.req.header("if-match"));
    const session = unwrap(await callStore(c, (b) => b.updateSession(owner(c), id, patch, expected)));
    return c.json(session, 200, { ...NO_STORE, etag: `"${session.version}"` });
  })
  .delete("/sessions/:id", write, async (c) => {
    const id = sessionId(c);
    unwrap(await callStore(c, (b) => b.deleteSession(owner(c), id)));
    return c.body(null, 204);
  })
  .post("/sessions/:id/messages", write, async (c) => {
    const id = sessionId(c);
    const input = await readJsonBody(c.req.raw, AddMessageRequestSchema);
    const message = unwrap(await callStore(c, (b) => b.addMessage(owner(c), id, input)));
    return c.json(message, 201, NO_STORE);
  })
  .get("/sessions/:id/messages", read, async (c) => {
    const id = sessionId(c);
    const query = parsed(PageQuerySchema, c.req.query(), "Invalid query");
    const { value, headers } = await readWithFallback(c, (b) => b.listMessages(owner(c), id, query));
    return c.json(pageBody("messages", value), 200, { ...NO_STORE, ...headers });
  })
  .get("/context", read, async (c) => {
    const query = parsed(PageQuerySchema, c.req.query(), "Invalid query");
    const { value, headers } = await readWithFallback(c, (b) => b.listContext(owner(c), query));
    return c.json(pageBody("entries", value), 200, { ...NO_STORE, ...headers });
  })
  .put("/context/:key", write, async (c) => {
    const key = contextKey(c);
    const { value } = await readJsonBody(c.req.raw, PutContextRequestSchema);
    const { entry, created } = unwrap(await callStore(c, (b) => b.putContext(owner(c), key, value)));
    return c.json(entry, created ? 201 : 200, NO_STORE);
  })
  .get("/context/:key", read, async (c) => {
    const key = contextKey(c);
    const { value, headers } = await readWithFallback(c, (b) => b.getContext(owner(c), key));
    return c.json(value, 200, { ...NO_STORE, ...headers });
  })
  .delete("/context/:key", write, async (c) => {
    const key = contextKey(c);
    unwrap(await callStore(c, (b) => b.deleteContext(owner(c), key)));
    return c.body(null, 204);
  })
  .post("/decisions", write, async (c) => {
    const input = await readJsonBody(c.req.raw, AddDecisionRequestSchema);
    const decision = unwrap(await callStore(c, (b) => b.addDecision(owner(c), input)));
    return c.json(decision, 201, NO_STORE);
  })
  .get("/decisions", read, async (c) => {
    const query = parsed(DecisionListQuerySchema, c.req.query(), "Invalid query");
    const { value, headers } = await readWithFallback(c, (b) => b.listDecisions(owner(c), query));
    return c.json(pageBody("decisions", value), 200, { ...NO_STORE, ...headers });
  });
