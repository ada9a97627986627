import { z } from "zod";
import { decodeCursor, encodeCursor } from "./cursor.ts";
import { byteLength, LIMITS } from "./limits.ts";
import {
  contextView,
  type DecisionRecord,
  decisionView,
  messageView,
  type SessionRecord,
  type SessionRepo,
  sessionView,
} from "./repo.ts";
import { fail, ok, type Result } from "./result.ts";
import {
  type AddDecisionRequest,
  type AddMessageRequest,
  type ContextEntry,
  type CreateSessionRequest,
  type Decision,
  type DecisionListQuery,
  type EventType,
  type Message,
  type PageQuery,
  type Session,
  type SessionListQuery,
  SNAPSHOT_FORMAT,
  type Snapshot,
  type UpdateSessionRequest,
} from "./schemas.ts";
import { deriveTitle } from "./title.ts";

/** A change to announce; `sessionId` decides which subscriptions receive it. */
export interface PendingEvent {
  type: EventType;
  data: unknown;
  sessionId: string | null;
}

export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

export interface ImportSummary {
  sessions: number;
  messages: number;
  context: number;
  decisions: number;
}

const SessionCursor = z.tuple([z.number(), z.string()]);
const NumberCursor = z.tuple([z.number().int()]);
const KeyCursor = z.tuple([z.string()]);
const invalidCursor = () => fail<never>(400, "invalid_cursor", "The cursor is not one this list issued.");

function page<R, T>(rows: R[], limit: number, view: (row: R) => T, key: (row: R) => (string | number)[]) {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return ok<Page<T>>({
    items: items.map(view),
    ...(rows.length > limit && last !== undefined ? { nextCursor: encodeCursor(key(last)) } : {}),
  });
}

/**
 * One owner's sessions, messages, context and decisions: every rule and limit, over either store.
 * Methods never await, so in the Durable Object each one runs whole before the next request.
 */
export class OwnerSessions {
  readonly #repo: SessionRepo;
  readonly #timeoutMs: number;
  readonly #now: () => number;
  #events: PendingEvent[] = [];

  constructor(repo: SessionRepo, options: { timeoutSeconds: number; now?: () => number }) {
    this.#repo = repo;
    this.#timeoutMs = options.timeoutSeconds * 1000;
    this.#now = options.now ?? Date.now;
  }

  /** The changes made since the last call, in order. */
  takeEvents(): PendingEvent[] {
    const events = this.#events;
    this.#events = [];
    return events;
  }

  #emit(type: EventType, data: unknown, sessionId: string | null): void {
    this.#events.push({ type, data, sessionId });
  }

  #budget(extraBytes: number): Result<void> {
    if (this.#repo.usedBytes() + extraBytes > LIMITS.ownerBytes) {
      return fail(
        413,
        "owner_storage_full",
        `An owner may store at most ${LIMITS.ownerBytes} bytes of sessions data.`,
      );
    }
    return ok(undefined);
  }

  #spend(bytes: number): void {
    this.#repo.setUsedBytes(Math.max(0, this.#repo.usedBytes() + bytes));
  }

  #session(id: string): Result<SessionRecord> {
    const record = this.#repo.getSession(id);
    return record ? ok(record) : fail(404, "session_not_found", "No such session.");
  }

  #metadata(metadata: Record<string, unknown> | undefined): Result<{ text: string; bytes: number }> {
    const text = JSON.stringify(metadata ?? {});
    const bytes = byteLength(text);
    if (bytes > LIMITS.metadataBytes) {
      return fail(
        413,
        "metadata_too_large",
        `metadata must be at most ${LIMITS.metadataBytes} bytes as JSON.`,
      );
    }
    return ok({ text, bytes });
  }

  createSession(input: CreateSessionRequest): Result<Session> {
    const metadata = this.#metadata(input.metadata);
    if (!metadata.ok) return metadata;
    const id = input.id ?? `ses_${crypto.randomUUID()}`;
    if (this.#repo.getSession(id)) return fail(409, "session_exists", "A session with this id exists.");
    if (this.#repo.countSessions() >= LIMITS.sessionsPerOwner) {
      return fail(
        409,
        "session_limit_reached",
        `An owner may hold at most ${LIMITS.sessionsPerOwner} sessions.`,
      );
    }
    const budget = this.#budget(metadata.value.bytes);
    if (!budget.ok) return budget;
    const now = this.#now();
    const record: SessionRecord = {
      id,
      title: input.title ?? null,
      titleFromClient: input.title !== undefined,
      metadata: metadata.value.text,
      status: "active",
      version: 1,
      messageCount: 0,
      bytes: metadata.value.bytes,
      createdAt: now,
      updatedAt: now,
      lastActiveAt: now,
      expiresAt: now + this.#timeoutMs,
    };
    this.#repo.putSession(record);
    this.#spend(record.bytes);
    const view = sessionView(record);
    this.#emit("session.created", view, id);
    return ok(view);
  }

  listSessions(query: SessionListQuery): Result<Page<Session>> {
    let after: [number, string] | undefined;
    if (query.cursor !== undefined) {
      after = decodeCursor(query.cursor, SessionCursor);
      if (!after) return invalidCursor();
    }
    const rows = this.#repo.listSessions(after, query.limit + 1, query.status);
    return page(rows, query.limit, sessionView, (r) => [r.createdAt, r.id]);
  }

  getSession(id: string): Result<Session> {
    const found = this.#session(id);
    return found.ok ? ok(sessionView(found.value)) : found;
  }

  /** `ifMatch` is the version the client last saw; a different current version is a 412. */
  updateSession(id: string, patch: UpdateSessionRequest, ifMatch?: number): Result<Session> {
    const found = this.#session(id);
    if (!found.ok) return found;
    const current = found.value;
    if (ifMatch !== undefined && ifMatch !== current.version) {
      return fail(412, "version_mismatch", `The session is at version ${current.version}; read it again.`);
    }
    const next: SessionRecord = { ...current };
    if (patch.metadata !== undefined) {
      const metadata = this.#metadata(patch.metadata);
      if (!metadata.ok) return metadata;
      const delta = metadata.value.bytes - byteLength(current.metadata);
      const budget = this.#budget(delta);
      if (!budget.ok) return budget;
      next.metadata = metadata.value.text;
      next.bytes += delta;
    }
    if (patch.title !== undefined) {
      next.titleFromClient = patch.title !== null;
      next.title = patch.title ?? this.#firstUserTitle(id);
    }
    if (patch.status !== undefined) next.status = patch.status;
    const now = this.#now();
    Object.assign(next, {
      version: current.version + 1,
      updatedAt: now,
      lastActiveAt: now,
      expiresAt: now + this.#timeoutMs,
    });
    this.#repo.putSession(next);
    this.#spend(next.bytes - current.bytes);
    const view = sessionView(next);
    this.#emit("session.updated", view, id);
    return ok(view);
  }

  #firstUserTitle(id: string): string | null {
    const first = this.#repo.listMessages(id, 0, LIMITS.messagesPerSession).find((m) => m.role === "user");
    return first ? deriveTitle(first.content) : null;
  }

  deleteSession(id: string): Result<{ id: string }> {
    const found = this.#session(id);
    if (!found.ok) return found;
    this.#repo.transaction(() => {
      this.#repo.deleteSession(id);
      this.#spend(-found.value.bytes);
    });
    this.#emit("session.deleted", { id }, id);
    return ok({ id });
  }

  addMessage(sessionId: string, input: AddMessageRequest): Result<Message> {
    const found = this.#session(sessionId);
    if (!found.ok) return found;
    const session = found.value;
    if (session.status === "closed")
      return fail(409, "session_closed", "The session is closed; reopen it first.");
    const bytes = byteLength(input.content);
    if (bytes > LIMITS.messageBytes) {
      return fail(413, "message_too_large", `A message may hold at most ${LIMITS.messageBytes} bytes.`);
    }
    if (session.messageCount >= LIMITS.messagesPerSession) {
      return fail(
        409,
        "message_limit_reached",
        `A session may hold at most ${LIMITS.messagesPerSession} messages.`,
      );
    }
    const budget = this.#budget(bytes);
    if (!budget.ok) return budget;
    const now = this.#now();
    const message = {
      sessionId,
      seq: session.messageCount + 1,
      role: input.role,
      content: input.content,
      createdAt: now,
    };
    const titled = !session.titleFromClient && session.title === null && input.role === "user";
    const next: SessionRecord = {
      ...session,
      messageCount: message.seq,
      bytes: session.bytes + bytes,
      lastActiveAt: now,
      expiresAt: now + this.#timeoutMs,
      ...(titled ? { title: deriveTitle(input.content), version: session.version + 1, updatedAt: now } : {}),
    };
    this.#repo.transaction(() => {
      this.#repo.addMessage(message);
      this.#repo.putSession(next);
      this.#spend(bytes);
    });
    const view = messageView(message);
    this.#emit("message.added", view, sessionId);
    if (titled) this.#emit("session.updated", sessionView(next), sessionId);
    return ok(view);
  }

  listMessages(sessionId: string, query: PageQuery): Result<Page<Message>> {
    const found = this.#session(sessionId);
    if (!found.ok) return found;
    let afterSeq = 0;
    if (query.cursor !== undefined) {
      const after = decodeCursor(query.cursor, NumberCursor);
      if (!after) return invalidCursor();
      afterSeq = after[0];
    }
    const rows = this.#repo.listMessages(sessionId, afterSeq, query.limit + 1);
    return page(rows, query.limit, messageView, (r) => [r.seq]);
  }

  putContext(key: string, value: unknown): Result<{ entry: ContextEntry; created: boolean }> {
    const text = JSON.stringify(value);
    const bytes = byteLength(text);
    if (bytes > LIMITS.contextValueBytes) {
      return fail(
        413,
        "context_value_too_large",
        `A context value may be at most ${LIMITS.contextValueBytes} bytes as JSON.`,
      );
    }
    const existing = this.#repo.getContext(key);
    if (!existing && this.#repo.countContext() >= LIMITS.contextKeysPerOwner) {
      return fail(
        409,
        "context_limit_reached",
        `An owner may hold at most ${LIMITS.contextKeysPerOwner} context keys.`,
      );
    }
    const delta = bytes - (existing?.bytes ?? 0);
    const budget = this.#budget(delta);
    if (!budget.ok) return budget;
    const record = { key, value: text, bytes, updatedAt: this.#now() };
    this.#repo.putContext(record);
    this.#spend(delta);
    const entry = contextView(record);
    this.#emit("context.set", entry, null);
    return ok({ entry, created: existing === undefined });
  }

  getContext(key: string): Result<ContextEntry> {
    const record = this.#repo.getContext(key);
    return record ? ok(contextView(record)) : fail(404, "context_not_found", "No such context key.");
  }

  deleteContext(key: string): Result<{ key: string }> {
    const record = this.#repo.getContext(key);
    if (!record) return fail(404, "context_not_found", "No such context key.");
    this.#repo.deleteContext(key);
    this.#spend(-record.bytes);
    this.#emit("context.deleted", { key }, null);
    return ok({ key });
  }

  listContext(query: PageQuery): Result<Page<ContextEntry>> {
    let afterKey: string | undefined;
    if (query.cursor !== undefined) {
      const after = decodeCursor(query.cursor, KeyCursor);
      if (!after) return invalidCursor();
      afterKey = after[0];
    }
    return page(this.#repo.listContext(afterKey, query.limit + 1), query.limit, contextView, (r) => [r.key]);
  }

  addDecision(input: AddDecisionRequest): Result<Decision> {
    const bytes = byteLength(input.reasoning);
    if (bytes > LIMITS.reasoningBytes) {
      return fail(413, "reasoning_too_large", `reasoning may be at most ${LIMITS.reasoningBytes} bytes.`);
    }
    if (input.sessionId !== undefined && !this.#repo.getSession(input.sessionId)) {
      return fail(404, "session_not_found", "No such session.");
    }
    if (this.#repo.countDecisions() >= LIMITS.decisionsPerOwner) {
      return fail(
        409,
        "decision_limit_reached",
        `An owner may log at most ${LIMITS.decisionsPerOwner} decisions.`,
      );
    }
    const budget = this.#budget(bytes);
    if (!budget.ok) return budget;
    const record = this.#repo.addDecision({
      type: input.type,
      reasoning: input.reasoning,
      confidence: input.confidence,
      sessionId: input.sessionId ?? null,
      createdAt: this.#now(),
    });
    this.#spend(bytes);
    const view = decisionView(record);
    this.#emit("decision.added", view, record.sessionId);
    return ok(view);
  }

  listDecisions(query: DecisionListQuery): Result<Page<Decision>> {
    let afterId = 0;
    if (query.cursor !== undefined) {
      const after = decodeCursor(query.cursor, NumberCursor);
      if (!after) return invalidCursor();
      afterId = after[0];
    }
    const rows = this.#repo.listDecisions(afterId, query.limit + 1, query.sessionId);
    return page(rows, query.limit, decisionView, (r) => [r.id]);
  }

  isEmpty(): boolean {
    return (
      this.#repo.countSessions() === 0 && this.#repo.countContext() === 0 && this.#repo.countDecisions() === 0
    );
  }

  nextExpiry(): number | undefined {
    return this.#repo.earliestExpiry();
  }

  /** Removes every session idle past its expiry; subscribers hear `session.expired`. */
  expire(): string[] {
    const expired = this.#repo.expiredSessions(this.#now());
    this.#repo.transaction(() => {
      for (const session of expired) {
        this.#repo.deleteSession(session.id);
        this.#spend(-session.bytes);
      }
    });
    for (const session of expired) this.#emit("session.expired", { id: session.id }, session.id);
    return expired.map((s) => s.id);
  }

  exportSnapshot(owner: string): Snapshot {
    const sessions = this.#repo.listSessions(undefined, LIMITS.sessionsPerOwner).map((s) => ({
      ...sessionView(s),
      messages: this.#repo.listMessages(s.id, 0, LIMITS.messagesPerSession).map(messageView),
    }));
    return {
      format: SNAPSHOT_FORMAT,
      owner,
      exportedAt: new Date(this.#now()).toISOString(),
      sessions,
      context: this.#repo.listContext(undefined, LIMITS.contextKeysPerOwner).map(contextView),
      decisions: this.#repo.listDecisions(0, LIMITS.decisionsPerOwner).map(decisionView),
    };
  }

  /**
   * Restores an export, all or nothing. Sessions restart their idle clock, or a day-old backup
   * would expire on arrival. Refuses an owner with state unless `replace`.
   */
  importSnapshot(snapshot: Snapshot, replace: boolean): Result<ImportSummary> {
    if (!replace && !this.isEmpty()) {
      return fail(
        409,
        "owner_not_empty",
        "The owner already has sessions data; pass ?replace=true to overwrite it.",
      );
    }
    const now = this.#now();
    let total = 0;
    const sessions: SessionRecord[] = [];
    for (const s of snapshot.sessions) {
      const metadata = this.#metadata(s.metadata);
      if (!metadata.ok) return metadata;
      let bytes = metadata.value.bytes;
      for (const m of s.messages) {
        const size = byteLength(m.content);
        if (size > LIMITS.messageBytes)
          return fail(413, "message_too_large", `Message ${s.id}/${m.seq} is too large.`);
        bytes += size;
      }
      total += bytes;
      sessions.push({
        id: s.id,
        title: s.title,
        titleFromClient: s.title !== null,
        metadata: metadata.value.text,
        status: s.status,
        version: s.version,
        messageCount: Math.max(0, ...s.messages.map((m) => m.seq)),
        bytes,
        createdAt: Date.parse(s.createdAt),
        updatedAt: Date.parse(s.updatedAt),
        lastActiveAt: Date.parse(s.lastActiveAt),
        expiresAt: now + this.#timeoutMs,
      });
    }
    const context = snapshot.context.map((c) => {
      const value = JSON.stringify(c.value);
      return { key: c.key, value, bytes: byteLength(value), updatedAt: Date.parse(c.updatedAt) };
    });
    for (const c of context) {
      if (c.bytes > LIMITS.contextValueBytes)
        return fail(413, "context_value_too_large", `Context key ${c.key} is too large.`);
      total += c.bytes;
    }
    const decisions: DecisionRecord[] = snapshot.decisions.map((d) => ({
      ...d,
      createdAt: Date.parse(d.createdAt),
    }));
    for (const d of decisions) total += byteLength(d.reasoning);
    if (total > LIMITS.ownerBytes) {
      return fail(413, "owner_storage_full", `The snapshot holds more than ${LIMITS.ownerBytes} bytes.`);
    }
    this.#repo.transaction(() => {
      this.#repo.clear();
      for (const [i, s] of sessions.entries()) {
        this.#repo.putSession(s);
        for (const m of snapshot.sessions[i]?.messages ?? []) {
          this.#repo.addMessage({ ...m, sessionId: s.id, createdAt: Date.parse(m.createdAt) });
        }
      }
      for (const c of context) this.#repo.putContext(c);
      for (const d of decisions) this.#repo.addDecision(d);
      this.#repo.setUsedBytes(total);
    });
    this.#emit("resync", { reason: "import" }, null);
    return ok({
      sessions: sessions.length,
      messages: snapshot.sessions.reduce((n, s) => n + s.messages.length, 0),
      context: context.length,
      decisions: decisions.length,
    });
  }
}
