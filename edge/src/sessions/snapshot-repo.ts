import { byteLength } from "./limits.ts";
import type { ContextRecord, DecisionRecord, MessageRecord, SessionRecord, SessionRepo } from "./repo.ts";
import type { Session, Snapshot } from "./schemas.ts";

const byCreated = (a: SessionRecord, b: SessionRecord) =>
  a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * SessionRepo over one owner's snapshot held in memory: the KV fallback loads it, lets the same
 * logic change it, and writes it back whole. Nothing here is durable until the caller saves it.
 */
export class SnapshotRepo implements SessionRepo {
  readonly #sessions = new Map<string, SessionRecord>();
  readonly #messages = new Map<string, MessageRecord[]>();
  readonly #context = new Map<string, ContextRecord>();
  #decisions: DecisionRecord[] = [];
  #usedBytes = 0;

  static from(snapshot: Snapshot | undefined): SnapshotRepo {
    const repo = new SnapshotRepo();
    if (!snapshot) return repo;
    for (const s of snapshot.sessions) {
      const metadata = JSON.stringify(s.metadata);
      const messages = s.messages.map((m) => ({ ...m, createdAt: Date.parse(m.createdAt) }));
      const bytes = byteLength(metadata) + messages.reduce((n, m) => n + byteLength(m.content), 0);
      repo.#sessions.set(s.id, {
        id: s.id,
        title: s.title,
        titleFromClient: s.title !== null,
        metadata,
        status: s.status,
        version: s.version,
        messageCount: s.messageCount,
        bytes,
        createdAt: Date.parse(s.createdAt),
        updatedAt: Date.parse(s.updatedAt),
        lastActiveAt: Date.parse(s.lastActiveAt),
        expiresAt: Date.parse(s.expiresAt),
      });
      repo.#messages.set(s.id, messages);
      repo.#usedBytes += bytes;
    }
    for (const c of snapshot.context) {
      const value = JSON.stringify(c.value);
      repo.#context.set(c.key, {
        key: c.key,
        value,
        bytes: byteLength(value),
        updatedAt: Date.parse(c.updatedAt),
      });
      repo.#usedBytes += byteLength(value);
    }
    repo.#decisions = snapshot.decisions.map((d) => ({ ...d, createdAt: Date.parse(d.createdAt) }));
    repo.#usedBytes += repo.#decisions.reduce((n, d) => n + byteLength(d.reasoning), 0);
    return repo;
  }

  getSession(id: string) {
    const found = this.#sessions.get(id);
    return found ? { ...found } : undefined;
  }

  countSessions() {
    return this.#sessions.size;
  }

  putSession(record: SessionRecord) {
    this.#sessions.set(record.id, { ...record });
  }

  deleteSession(id: string) {
    this.#sessions.delete(id);
    this.#messages.delete(id);
  }

  listSessions(after: [number, string] | undefined, limit: number, status?: Session["status"]) {
    const isAfter = (s: SessionRecord) =>
      !after || s.createdAt > after[0] || (s.createdAt === after[0] && s.id > after[1]);
    return [...this.#sessions.values()]
      .filter((s) => (status === undefined || s.status === status) && isAfter(s))
      .sort(byCreated)
      .slice(0, limit);
  }

  expiredSessions(now: number) {
    return [...this.#sessions.values()].filter((s) => s.expiresAt <= now);
  }

  earliestExpiry() {
    const times = [...this.#sessions.values()].map((s) => s.expiresAt);
    return times.length > 0 ? Math.min(...times) : undefined;
  }

  addMessage(record: MessageRecord) {
    const list = this.#messages.get(record.sessionId) ?? [];
    list.push(record);
    this.#messages.set(record.sessionId, list);
  }

  listMessages(sessionId: string, afterSeq: number, limit: number) {
    return (this.#messages.get(sessionId) ?? []).filter((m) => m.seq > afterSeq).slice(0, limit);
  }

  getContext(key: string) {
    return this.#context.get(key);
  }

  countContext() {
    return this.#context.size;
  }

  putContext(record: ContextRecord) {
    this.#context.set(record.key, record);
  }

  deleteContext(key: string) {
    this.#context.delete(key);
  }

  listContext(afterKey: string | undefined, limit: number) {
    return [...this.#context.values()]
      .filter((c) => afterKey === undefined || c.key > afterKey)
      .sort((a, b) => (a.key < b.key ? -1 : 1))
      .slice(0, limit);
  }

  countDecisions() {
    return this.#decisions.length;
  }

  addDecision(record: Omit<DecisionRecord, "id"> & { id?: number }) {
    const id = record.id ?? (this.#decisions.at(-1)?.id ?? 0) + 1;
    const stored = { ...record, id };
    this.#decisions.push(stored);
    return stored;
  }

  listDecisions(afterId: number, limit: number, sessionId?: string) {
    return this.#decisions
      .filter((d) => d.id > afterId && (sessionId === undefined || d.sessionId === sessionId))
      .slice(0, limit);
  }

  usedBytes() {
    return this.#usedBytes;
  }

  setUsedBytes(bytes: number) {
    this.#usedBytes = bytes;
  }

  clear() {
    this.#sessions.clear();
    this.#messages.clear();
    this.#context.clear();
    this.#decisions = [];
    this.#usedBytes = 0;
  }

  transaction<T>(work: () => T): T {
    return work();
  }
}
