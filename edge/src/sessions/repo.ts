import type { ContextEntry, Decision, Message, Session } from "./schemas.ts";

/** Rows as both stores keep them: times in epoch milliseconds, JSON members as text. */
export interface SessionRecord {
  id: string;
  title: string | null;
  titleFromClient: boolean;
  metadata: string;
  status: Session["status"];
  version: number;
  messageCount: number;
  /** Metadata plus message bytes: what deleting the session gives back to the owner's budget. */
  bytes: number;
  createdAt: number;
  updatedAt: number;
  lastActiveAt: number;
  expiresAt: number;
}

export interface MessageRecord {
  sessionId: string;
  seq: number;
  role: Message["role"];
  content: string;
  createdAt: number;
}

export interface ContextRecord {
  key: string;
  value: string;
  bytes: number;
  updatedAt: number;
}

export interface DecisionRecord {
  id: number;
  type: string;
  reasoning: string;
  confidence: number;
  sessionId: string | null;
  createdAt: number;
}

/**
 * What the session logic needs from storage, synchronously: SQLite in the Durable Object, an
 * in-memory snapshot in the KV fallback. Lists return up to `limit` rows after the given key.
 */
export interface SessionRepo {
  getSession(id: string): SessionRecord | undefined;
  countSessions(): number;
  putSession(record: SessionRecord): void;
  /** Removes the session and its messages. */
  deleteSession(id: string): void;
  listSessions(
    after: [number, string] | undefined,
    limit: number,
    status?: Session["status"],
  ): SessionRecord[];
  expiredSessions(now: number): SessionRecord[];
  earliestExpiry(): number | undefined;

  addMessage(record: MessageRecord): void;
  listMessages(sessionId: string, afterSeq: number, limit: number): MessageRecord[];

  getContext(key: string): ContextRecord | undefined;
  countContext(): number;
  putContext(record: ContextRecord): void;
  deleteContext(key: string): void;
  listContext(afterKey: string | undefined, limit: number): ContextRecord[];

  countDecisions(): number;
  /** Assigns the next id unless one is given (import). */
  addDecision(record: Omit<DecisionRecord, "id"> & { id?: number }): DecisionRecord;
  listDecisions(afterId: number, limit: number, sessionId?: string): DecisionRecord[];

  usedBytes(): number;
  setUsedBytes(bytes: number): void;
  /** Drops everything the owner has (import with replace). */
  clear(): void;
  /** All or nothing. */
  transaction<T>(work: () => T): T;
}

const iso = (ms: number) => new Date(ms).toISOString();

export function sessionView(r: SessionRecord): Session {
  return {
    id: r.id,
    title: r.title,
    metadata: JSON.parse(r.metadata) as Session["metadata"],
    status: r.status,
    version: r.version,
    messageCount: r.messageCount,
    createdAt: iso(r.createdAt),
    updatedAt: iso(r.updatedAt),
    lastActiveAt: iso(r.lastActiveAt),
    expiresAt: iso(r.expiresAt),
  };
}

export function messageView(r: MessageRecord): Message {
  return {
    sessionId: r.sessionId,
    seq: r.seq,
    role: r.role,
    content: r.content,
    createdAt: iso(r.createdAt),
  };
}

export function contextView(r: ContextRecord): ContextEntry {
  return { key: r.key, value: JSON.parse(r.value) as ContextEntry["value"], updatedAt: iso(r.updatedAt) };
}

export function decisionView(r: DecisionRecord): Decision {
  return {
    id: r.id,
    type: r.type,
    reasoning: r.reasoning,
    confidence: r.confidence,
    sessionId: r.sessionId,
    createdAt: iso(r.createdAt),
  };
}
