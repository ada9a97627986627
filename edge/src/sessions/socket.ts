import { ProblemError } from "@chittyconnect/contract";
import { createRoute } from "@hono/zod-openapi";
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { bearerAuth, requireScope } from "../auth/bearer.ts";
import type { AppEnv, EdgeBindings } from "../env.ts";
import { openApiApp, output, problems, reply } from "../openapi-parts.ts";
import { type SessionStateDO, SOCKET_GRANT_HEADER, type SocketGrant } from "./durable-object.ts";
import { unwrap } from "./result.ts";
import { SessionEventSchema, SocketQuerySchema } from "./schemas.ts";
import { durableObjectsFor } from "./store.ts";
import { newTicket, parseTicket } from "./tickets.ts";
import { liveTokenIds } from "./token-liveness.ts";

function stub(env: EdgeBindings, owner: string): DurableObjectStub<SessionStateDO> {
  return env.SESSIONS.get(env.SESSIONS.idFromName(owner));
}

function websocketsDisabled(): ProblemError {
  return new ProblemError({
    status: 503,
    code: "websockets_disabled",
    title: "Service unavailable",
    detail: "WebSockets need Durable Objects, and the durableObjects flag is off for this owner.",
  });
}

function invalidTicket(): ProblemError {
  return new ProblemError({
    status: 401,
    code: "invalid_ticket",
    title: "Unauthorized",
    detail: "The ticket is unknown, already used or older than 30 seconds; ask for a new one.",
  });
}

/** `POST /sessions/ws-ticket`: a single-use, 30-second ticket for browsers, which cannot send headers. */
export async function issueTicket(c: Context<AppEnv>, sessionId: string | null) {
  const { owner, tokenId } = c.get("auth");
  if (!(await durableObjectsFor(c.env, owner))) throw websocketsDisabled();
  const { ticket, secret } = newTicket(owner);
  const { expiresAt } = unwrap(await stub(c.env, owner).issueTicket(owner, secret, tokenId));
  const url = new URL("/api/v1/sessions/ws", c.req.url);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("ticket", ticket);
  if (sessionId !== null) url.searchParams.set("sessionId", sessionId);
  return { ticket, expiresAt, url: url.toString() };
}

/** After authentication: the flag is evaluated for the socket's owner. */
const flagOn = createMiddleware<AppEnv>(async (c, next) => {
  if (!(await durableObjectsFor(c.env, c.get("auth").owner))) throw websocketsDisabled();
  await next();
});

/** A ticket stands in for the bearer token it was issued to, once, and only while that token is valid. */
const ticketOrBearer = createMiddleware<AppEnv>(async (c, next) => {
  const ticket = c.req.query("ticket");
  if (ticket === undefined) return bearerAuth(c, next);
  const parsed = parseTicket(ticket);
  if (!parsed) throw invalidTicket();
  const redeemed = await stub(c.env, parsed.owner).redeemTicket(parsed.owner, parsed.secret);
  if (!redeemed || !(await liveTokenIds(c.env.DB, [redeemed.tokenId], Date.now())).has(redeemed.tokenId)) {
    throw invalidTicket();
  }
  c.set("auth", { tokenId: redeemed.tokenId, owner: parsed.owner, scopes: ["sessions:read"], services: [] });
  await next();
});

/** Checked before the query, as a plain GET of this URL is a client that is not speaking WebSocket. */
const upgradeRequired = createMiddleware<AppEnv>(async (c, next) => {
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
    throw new ProblemError({
      status: 426,
      code: "websocket_upgrade_required",
      title: "Upgrade required",
      detail: "Connect with a WebSocket client (Upgrade: websocket).",
      headers: { upgrade: "websocket" },
    });
  }
  await next();
});

/** The bearer token, or none with a ticket in the query. */
const BEARER_OR_TICKET: Record<string, string[]>[] = [{ bearer: ["sessions:read"] }, {}];

const socketRoute = createRoute({
  method: "get",
  path: "/ws",
  tags: ["sessions"],
  summary: "WebSocket of the owner's events ({type, data, at, seq}); send 'ping' to get 'pong'",
  description: `Authenticate with the bearer header or ?ticket= (from POST /api/v1/sessions/ws-ticket). Events: ${JSON.stringify(output(SessionEventSchema))}`,
  security: BEARER_OR_TICKET,
  middleware: [ticketOrBearer, flagOn, requireScope("sessions:read"), upgradeRequired] as const,
  request: { query: SocketQuerySchema },
  responses: { 101: reply("Switching protocols"), ...problems(400, 401, 403, 404, 409, 426, 503) },
});

/** `GET /api/v1/sessions/ws`: the owner's events over a hibernatable WebSocket held by its object. */
export const sessionSocketRoutes = openApiApp().openapi(socketRoute, async (c) => {
  const query = c.req.valid("query");
  const { owner, tokenId } = c.get("auth");
  const sessionId = query.sessionId ?? null;
  const object = stub(c.env, owner);
  unwrap(await object.checkSocket(owner, sessionId));
  const grant: SocketGrant = { owner, tokenId, sessionId, since: query.since ?? null };
  const upgraded = await object.fetch(c.req.url, {
    headers: { upgrade: "websocket", [SOCKET_GRANT_HEADER]: JSON.stringify(grant) },
  });
  // The object's response headers are immutable; the app's middleware still adds its own.
  return new Response(null, { status: upgraded.status, webSocket: upgraded.webSocket });
});
