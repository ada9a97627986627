import { DurableObject } from "cloudflare:workers";
import { sha256Hex } from "@chittyconnect/contract";
import { z } from "zod";
import type { EdgeBindings } from "../env.ts";
import type { SessionBackend } from "./backend.ts";
import { sessionsConfig } from "./config.ts";
import { EventLog, type LoggedEvent } from "./event-log.ts";
import { writeSnapshot } from "./kv-store.ts";
import { LIMITS } from "./limits.ts";
import { OwnerSessions } from "./owner-sessions.ts";
import { fail, ok, type Result } from "./result.ts";
import type {
  AddDecisionRequest,
  AddMessageRequest,
  CreateSessionRequest,
  DecisionListQuery,
  PageQuery,
  SessionEvent,
  SessionListQuery,
  Snapshot,
  UpdateSessionRequest,
} from "./schemas.ts";
import { migrate, SqliteSessionRepo } from "./sqlite-repo.ts";
import { MAX_OPEN_TICKETS, TICKET_TTL_MS } from "./tickets.ts";
import { liveTokenIds } from "./token-liveness.ts";

/** A change reaches KV (the fallback's snapshot) this long after it happened, batched. */
export const SNAPSHOT_DELAY_MS = 10_000;
/** How often open sockets' tokens are checked again: a revoked token's sockets close within this. */
export const TOKEN_CHECK_MS = 55_000;
/** Close code for a socket whose token was revoked or expired (4000–4999: application codes). */
export const CLOSE_TOKEN_REVOKED = 4001;

/** Who a socket belongs to, set by the Worker route after it checked the token or ticket. */
export const SocketGrantSchema = z.object({
  owner: z.string(),
  tokenId: z.string(),
  sessionId: z.string().nullable(),
  since: z.number().int().min(0).nullable(),
});
export type SocketGrant = z.infer<typeof SocketGrantSchema>;
export const SOCKET_GRANT_HEADER = "x-chitty-socket-grant";

interface SocketAttachment {
  tokenId: string;
  sessionId: string | null;
}

const ALL_TAG = "all";
const sessionTag = (id: string) => `session:${id}`;
const tokenTag = (id: string) => `token:${id}`;

/**
 * One owner's sessions (`idFromName(owner)`), in SQLite. Routes call the typed methods below over
 * RPC; only the WebSocket upgrade arrives through `fetch`, because a socket cannot cross RPC.
 * Sockets use the hibernation API: the object may be evicted while they stay open.
 */
export class SessionStateDO extends DurableObject<EdgeBindings> implements SessionBackend {
  readonly #repo: SqliteSessionRepo;
  readonly #sessions: OwnerSessions;
  readonly #events: EventLog;

  constructor(ctx: DurableObjectState, env: EdgeBindings) {
    super(ctx, env);
    migrate(ctx.storage);
    this.#repo = new SqliteSessionRepo(ctx.storage);
    this.#sessions = new OwnerSessions(this.#repo, { timeoutSeconds: sessionsConfig(env).timeoutSeconds });
    this.#events = new EventLog(ctx.storage.sql);
    // Answered by the runtime without waking the object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
  }

  /** The object serves exactly one owner; a call for another is a routing bug, never served. */
  #bind(owner: string): void {
    const held = this.#repo.getMeta("owner");
    if (held === undefined) this.#repo.setMeta("owner", owner);
    else if (held !== owner) throw new Error("session object called for a different owner");
  }

  async #read<T>(owner: string, work: (s: OwnerSessions) => Result<T>): Promise<Result<T>> {
    this.#bind(owner);
    return work(this.#sessions);
  }

  async #write<T>(owner: string, work: (s: OwnerSessions) => Result<T>): Promise<Result<T>> {
    this.#bind(owner);
    const result = work(this.#sessions);
    this.#publish();
    await this.#schedule();
    return result;
  }

  /** Logs the pending events, sends each to the sockets subscribed to it, and marks KV stale. */
  #publish(): LoggedEvent[] {
    const pending = this.#sessions.takeEvents();
    if (pending.length === 0) return [];
    const logged = this.#events.append(pending, Date.now());
    for (const { event, sessionId } of logged) {
      const text = JSON.stringify(event);
      const sockets = this.#audience(event.type, sessionId);
      for (const ws of sockets) {
        try {
          ws.send(text);
        } catch {
          // A socket closing under us; its close handler cleans up.
        }
      }
    }
    if (this.#repo.getMeta("snapshot_due") === undefined) {
      this.#repo.setMeta("snapshot_due", String(Date.now() + SNAPSHOT_DELAY_MS));
    }
    return logged;
  }

  /** A session's events go to its subscribers and to owner-wide sockets; a resync goes to all. */
  #audience(type: SessionEvent["type"], sessionId: string | null): WebSocket[] {
    if (type === "resync") return this.ctx.getWebSockets();
    const sockets = this.ctx.getWebSockets(ALL_TAG);
    if (sessionId !== null) sockets.push(...this.ctx.getWebSockets(sessionTag(sessionId)));
    return sockets;
  }

  /** One alarm, at the earliest of: a session's expiry, the KV snapshot, the sockets' token check. */
  async #schedule(): Promise<void> {
    const due = [
      this.#sessions.nextExpiry(),
      this.#metaTime("snapshot_due"),
      this.#metaTime("token_check_due"),
    ];
    const next = Math.min(...due.filter((t): t is number => t !== undefined));
    if (Number.isFinite(next)) await this.ctx.storage.setAlarm(next);
    else await this.ctx.storage.deleteAlarm();
  }

  #metaTime(key: string): number | undefined {
    const value = this.#repo.getMeta(key);
    return value === undefined ? undefined : Number(value);
  }

  override async alarm(): Promise<void> {
    const now = Date.now();
    this.#sessions.expire();
    this.#publish();
    const owner = this.#repo.getMeta("owner");
    const snapshotDue = this.#metaTime("snapshot_due");
    if (owner !== undefined && snapshotDue !== undefined && snapshotDue <= now) {
      await writeSnapshot(this.env.SESSIONS_KV, this.#sessions.exportSnapshot(owner), now);
      this.#repo.setMeta("snapshot_due", null);
    }
    const tokenCheck = this.#metaTime("token_check_due");
    if (tokenCheck !== undefined && tokenCheck <= now) await this.#closeRevokedSockets(now);
    this.ctx.storage.sql.exec("DELETE FROM tickets WHERE expires_at <= ?", now);
    await this.#schedule();
  }

  async #closeRevokedSockets(now: number): Promise<void> {
    const sockets = this.ctx.getWebSockets();
    const tokenIds = [
      ...new Set(sockets.map((ws) => (ws.deserializeAttachment() as SocketAttachment).tokenId)),
    ];
    const live = await liveTokenIds(this.env.DB, tokenIds, now);
    for (const tokenId of tokenIds) {
      if (live.has(tokenId)) continue;
      for (const ws of this.ctx.getWebSockets(tokenTag(tokenId))) {
        ws.close(CLOSE_TOKEN_REVOKED, "token revoked or expired");
      }
    }
    const stillOpen = tokenIds.some((tokenId) => live.has(tokenId));
    this.#repo.setMeta("token_check_due", stillOpen ? String(now + TOKEN_CHECK_MS) : null);
  }

  // ── RPC: the routes' operations ──────────────────────────────────────────────────────────────
  async createSession(owner: string, input: CreateSessionRequest) {
    return this.#write(owner, (s) => s.createSession(input));
  }
  async listSessions(owner: string, query: SessionListQuery) {
    return this.#read(owner, (s) => s.listSessions(query));
  }
  async getSession(owner: string, id: string) {
    return this.#read(owner, (s) => s.getSession(id));
  }
  async updateSession(owner: string, id: string, patch: UpdateSessionRequest, ifMatch?: number) {
    return this.#write(owner, (s) => s.updateSession(id, patch, ifMatch));
  }
  async deleteSession(owner: string, id: string) {
    return this.#write(owner, (s) => s.deleteSession(id));
  }
  async addMessage(owner: string, sessionId: string, input: AddMessageRequest) {
    return this.#write(owner, (s) => s.addMessage(sessionId, input));
  }
  async listMessages(owner: string, sessionId: string, query: PageQuery) {
    return this.#read(owner, (s) => s.listMessages(sessionId, query));
  }
  async putContext(owner: string, key: string, value: unknown) {
    return this.#write(owner, (s) => s.putContext(key, value));
  }
  async getContext(owner: string, key: string) {
    return this.#read(owner, (s) => s.getContext(key));
  }
  async deleteContext(owner: string, key: string) {
    return this.#write(owner, (s) => s.deleteContext(key));
  }
  async listContext(owner: string, query: PageQuery) {
    return this.#read(owner, (s) => s.listContext(query));
  }
  async addDecision(owner: string, input: AddDecisionRequest) {
    return this.#write(owner, (s) => s.addDecision(input));
  }
  async listDecisions(owner: string, query: DecisionListQuery) {
    return this.#read(owner, (s) => s.listDecisions(query));
  }
  async exportSnapshot(owner: string) {
    return this.#read(owner, (s) => ok(s.exportSnapshot(owner)));
  }
  async importSnapshot(owner: string, snapshot: Snapshot, replace: boolean) {
    return this.#write(owner, (s) => s.importSnapshot(snapshot, replace));
  }

  /** For /api/v1/status: the namespace answers and the object's storage is usable. */
  async ping(): Promise<boolean> {
    return this.ctx.storage.sql.exec<{ one: number }>("SELECT 1 AS one").one().one === 1;
  }

  // ── RPC: WebSocket tickets and checks ────────────────────────────────────────────────────────
  async issueTicket(owner: string, secret: string, tokenId: string): Promise<Result<{ expiresAt: string }>> {
    this.#bind(owner);
    const hash = await sha256Hex(secret);
    const now = Date.now();
    this.ctx.storage.sql.exec("DELETE FROM tickets WHERE expires_at <= ?", now);
    const open = this.ctx.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM tickets").one().n;
    if (open >= MAX_OPEN_TICKETS) {
      return fail(
        409,
        "ticket_limit_reached",
        `At most ${MAX_OPEN_TICKETS} unused tickets may be open at once.`,
      );
    }
    const expiresAt = now + TICKET_TTL_MS;
    this.ctx.storage.sql.exec(
      "INSERT INTO tickets (hash, token_id, expires_at) VALUES (?, ?, ?)",
      hash,
      tokenId,
      expiresAt,
    );
    return ok({ expiresAt: new Date(expiresAt).toISOString() });
  }

  /** Single use: the row is deleted whether or not it is still valid. */
  async redeemTicket(owner: string, secret: string): Promise<{ tokenId: string } | undefined> {
    this.#bind(owner);
    const hash = await sha256Hex(secret);
    const row = this.ctx.storage.sql
      .exec<{ token_id: string; expires_at: number }>(
        "DELETE FROM tickets WHERE hash = ? RETURNING token_id, expires_at",
        hash,
      )
      .toArray()[0];
    if (!row || row.expires_at <= Date.now()) return undefined;
    return { tokenId: row.token_id };
  }

  /** Whether a socket for this subscription may open: the session exists, the owner has room. */
  async checkSocket(owner: string, sessionId: string | null): Promise<Result<void>> {
    this.#bind(owner);
    if (sessionId !== null && !this.#repo.getSession(sessionId)) {
      return fail(404, "session_not_found", "No such session.");
    }
    if (this.ctx.getWebSockets().length >= LIMITS.socketsPerOwner) {
      return fail(
        409,
        "socket_limit_reached",
        `An owner may hold at most ${LIMITS.socketsPerOwner} open sockets.`,
      );
    }
    return ok(undefined);
  }

  // ── WebSockets (hibernation API) ─────────────────────────────────────────────────────────────
  override async fetch(request: Request): Promise<Response> {
    const grant = SocketGrantSchema.safeParse(JSON.parse(request.headers.get(SOCKET_GRANT_HEADER) ?? "null"));
    if (!grant.success || request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response(null, { status: 400 });
    }
    const { owner, tokenId, sessionId, since } = grant.data;
    this.#bind(owner);
    const { 0: client, 1: server } = new WebSocketPair();
    const tags = [tokenTag(tokenId), sessionId === null ? ALL_TAG : sessionTag(sessionId)];
    this.ctx.acceptWebSocket(server, tags);
    const attachment: SocketAttachment = { tokenId, sessionId };
    server.serializeAttachment(attachment);
    if (since !== null) this.#replay(server, since, sessionId);
    if (this.#repo.getMeta("token_check_due") === undefined) {
      this.#repo.setMeta("token_check_due", String(Date.now() + TOKEN_CHECK_MS));
      await this.#schedule();
    }
    return new Response(null, { status: 101, webSocket: client });
  }

  /** Sends what the client missed since `since`, then `resync` if the backlog no longer covers it. */
  #replay(ws: WebSocket, since: number, sessionId: string | null): void {
    const { events, complete } = this.#events.since(since);
    for (const logged of events) {
      const forThisSocket =
        logged.event.type === "resync" || sessionId === null || logged.sessionId === sessionId;
      if (forThisSocket) {
        ws.send(JSON.stringify(logged.event));
      }
    }
    if (!complete) {
      const resync: SessionEvent = {
        type: "resync",
        data: { reason: "backlog_exceeded" },
        at: new Date().toISOString(),
        seq: this.#events.latestSeq(),
      };
      ws.send(JSON.stringify(resync));
    }
  }

  /** The protocol is server → client; "ping" is answered by the runtime, anything else is ignored. */
  override async webSocketMessage(): Promise<void> {}

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, "closing");
    } catch {
      // Already closed.
    }
  }
}
