import type { ContextRecord, DecisionRecord, MessageRecord, SessionRecord, SessionRepo } from "./repo.ts";
import type { Session } from "./schemas.ts";

/**
 * The object's schema, one statement per step, applied in order inside the object on first use
 * after a deploy. Only ever append: a deployed step never changes.
 */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE sessions (
     id TEXT PRIMARY KEY, title TEXT, title_from_client INTEGER NOT NULL, metadata TEXT NOT NULL,
     status TEXT NOT NULL, version INTEGER NOT NULL, message_count INTEGER NOT NULL, bytes INTEGER NOT NULL,
     created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, last_active_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL)`,
  "CREATE INDEX sessions_by_created ON sessions (created_at, id)",
  "CREATE INDEX sessions_by_expiry ON sessions (expires_at)",
  `CREATE TABLE messages (
     session_id TEXT NOT NULL, seq INTEGER NOT NULL, role TEXT NOT NULL, content TEXT NOT NULL,
     created_at INTEGER NOT NULL, PRIMARY KEY (session_id, seq)) WITHOUT ROWID`,
  "CREATE TABLE context (key TEXT PRIMARY KEY, value TEXT NOT NULL, bytes INTEGER NOT NULL, updated_at INTEGER NOT NULL)",
  `CREATE TABLE decisions (
     id INTEGER PRIMARY KEY, type TEXT NOT NULL, reasoning TEXT NOT NULL, confidence REAL NOT NULL,
     session_id TEXT, created_at INTEGER NOT NULL)`,
  "CREATE INDEX decisions_by_session ON decisions (session_id, id)",
  `CREATE TABLE events (
     seq INTEGER PRIMARY KEY, type TEXT NOT NULL, data TEXT NOT NULL, session_id TEXT, at INTEGER NOT NULL)`,
  "CREATE TABLE tickets (hash TEXT PRIMARY KEY, token_id TEXT NOT NULL, expires_at INTEGER NOT NULL)",
  "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
];

/** Applies the steps not yet applied; returns how many ran. */
export function migrate(storage: DurableObjectStorage): number {
  const { sql } = storage;
  sql.exec(
    "CREATE TABLE IF NOT EXISTS schema_migrations (step INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
  );
  const done = sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM schema_migrations").one().n;
  storage.transactionSync(() => {
    for (let step = done; step < MIGRATIONS.length; step++) {
      sql.exec(MIGRATIONS[step]!);
      sql.exec("INSERT INTO schema_migrations (step, applied_at) VALUES (?, ?)", step, Date.now());
    }
  });
  return MIGRATIONS.length - done;
}

type Row = Record<string, SqlStorageValue>;
interface SessionRow extends Row {
  id: string;
  title: string | null;
  title_from_client: number;
  metadata: string;
  status: string;
  version: number;
  message_count: number;
  bytes: number;
  created_at: number;
  updated_at: number;
  last_active_at: number;
  expires_at: number;
}

const toSession = (r: SessionRow): SessionRecord => ({
  id: r.id,
  title: r.title,
  titleFromClient: r.title_from_client === 1,
  metadata: r.metadata,
  status: r.status as Session["status"],
  version: r.version,
  messageCount: r.message_count,
  bytes: r.bytes,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  lastActiveAt: r.last_active_at,
  expiresAt: r.expires_at,
});

const MESSAGE_COLUMNS = "session_id AS sessionId, seq, role, content, created_at AS createdAt";
const DECISION_COLUMNS = "id, type, reasoning, confidence, session_id AS sessionId, created_at AS createdAt";
const CONTEXT_COLUMNS = "key, value, bytes, updated_at AS updatedAt";

/** SessionRepo over the Durable Object's SQLite storage. */
export class SqliteSessionRepo implements SessionRepo {
  readonly #storage: DurableObjectStorage;
  readonly #sql: SqlStorage;

  constructor(storage: DurableObjectStorage) {
    this.#storage = storage;
    this.#sql = storage.sql;
  }

  #all<T>(query: string, ...bindings: SqlStorageValue[]): T[] {
    return this.#sql.exec(query, ...bindings).toArray() as T[];
  }

  #count(table: string): number {
    return this.#sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`).one().n;
  }

  getSession(id: string) {
    const row = this.#all<SessionRow>("SELECT * FROM sessions WHERE id = ?", id)[0];
    return row ? toSession(row) : undefined;
  }

  countSessions() {
    return this.#count("sessions");
  }

  putSession(r: SessionRecord) {
    this.#sql.exec(
      `INSERT OR REPLACE INTO sessions (id, title, title_from_client, metadata, status, version, message_count,
         bytes, created_at, updated_at, last_active_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      r.id,
      r.title,
      r.titleFromClient ? 1 : 0,
      r.metadata,
      r.status,
      r.version,
      r.messageCount,
      r.bytes,
      r.createdAt,
      r.updatedAt,
      r.lastActiveAt,
      r.expiresAt,
    );
  }

  deleteSession(id: string) {
    this.#sql.exec("DELETE FROM messages WHERE session_id = ?", id);
    this.#sql.exec("DELETE FROM sessions WHERE id = ?", id);
  }

  listSessions(after: [number, string] | undefined, limit: number, status?: Session["status"]) {
    const [createdAt, id] = after ?? [-1, ""];
    const rows = this.#all<SessionRow>(
      `SELECT * FROM sessions WHERE (created_at > ? OR (created_at = ? AND id > ?)) AND (? IS NULL OR status = ?)
       ORDER BY created_at, id LIMIT ?`,
      createdAt,
      createdAt,
      id,
      status ?? null,
      status ?? null,
      limit,
    );
    return rows.map(toSession);
  }

  expiredSessions(now: number) {
    return this.#all<SessionRow>("SELECT * FROM sessions WHERE expires_at <= ?", now).map(toSession);
  }

  earliestExpiry() {
    const row = this.#all<{ at: number | null }>("SELECT MIN(expires_at) AS at FROM sessions")[0];
    return row?.at ?? undefined;
  }

  addMessage(r: MessageRecord) {
    this.#sql.exec(
      "INSERT INTO messages (session_id, seq, role, content, created_at) VALUES (?, ?, ?, ?, ?)",
      r.sessionId,
      r.seq,
      r.role,
      r.content,
      r.createdAt,
    );
  }

  listMessages(sessionId: string, afterSeq: number, limit: number) {
    return this.#all<MessageRecord>(
      `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE session_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
      sessionId,
      afterSeq,
      limit,
    );
  }

  getContext(key: string) {
    return this.#all<ContextRecord>(`SELECT ${CONTEXT_COLUMNS} FROM context WHERE key = ?`, key)[0];
  }

  countContext() {
    return this.#count("context");
  }

  putContext(r: ContextRecord) {
    this.#sql.exec(
      "INSERT OR REPLACE INTO context (key, value, bytes, updated_at) VALUES (?, ?, ?, ?)",
      r.key,
      r.value,
      r.bytes,
      r.updatedAt,
    );
  }

  deleteContext(key: string) {
    this.#sql.exec("DELETE FROM context WHERE key = ?", key);
  }

  listContext(afterKey: string | undefined, limit: number) {
    return this.#all<ContextRecord>(
      `SELECT ${CONTEXT_COLUMNS} FROM context WHERE key > ? ORDER BY key LIMIT ?`,
      afterKey ?? "",
      limit,
    );
  }

  countDecisions() {
    return this.#count("decisions");
  }

  addDecision(r: Omit<DecisionRecord, "id"> & { id?: number }) {
    const row = this.#sql
      .exec<{ id: number }>(
        "INSERT INTO decisions (id, type, reasoning, confidence, session_id, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        r.id ?? null,
        r.type,
        r.reasoning,
        r.confidence,
        r.sessionId,
        r.createdAt,
      )
      .one();
    return { ...r, id: row.id };
  }

  listDecisions(afterId: number, limit: number, sessionId?: string) {
    return this.#all<DecisionRecord>(
      `SELECT ${DECISION_COLUMNS} FROM decisions WHERE id > ? AND (? IS NULL OR session_id = ?) ORDER BY id LIMIT ?`,
      afterId,
      sessionId ?? null,
      sessionId ?? null,
      limit,
    );
  }

  usedBytes() {
    return Number(this.getMeta("used_bytes") ?? 0);
  }

  setUsedBytes(bytes: number) {
    this.setMeta("used_bytes", String(bytes));
  }

  getMeta(key: string): string | undefined {
    return this.#all<{ value: string }>("SELECT value FROM meta WHERE key = ?", key)[0]?.value;
  }

  setMeta(key: string, value: string | null): void {
    if (value === null) this.#sql.exec("DELETE FROM meta WHERE key = ?", key);
    else this.#sql.exec("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", key, value);
  }

  clear() {
    for (const table of ["messages", "sessions", "context", "decisions"])
      this.#sql.exec(`DELETE FROM ${table}`);
    this.setUsedBytes(0);
  }

  transaction<T>(work: () => T): T {
    return this.#storage.transactionSync(work);
  }
}
