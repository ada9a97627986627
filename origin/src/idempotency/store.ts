import { closeSync, mkdirSync, openSync } from "node:fs";
import { dirname, join } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";

/**
 * Remembers, per owner and Idempotency-Key, which request a key was first used for (a SHA-256 of
 * its body, never the body) and the Connect item version it produced (never the value). An SQLite
 * file beside the audit log, so it survives a restart; origin processes sharing the file (one
 * volume) coordinate through it, because every claim is one IMMEDIATE transaction.
 */
export type Claim =
  /** New key: the caller does the work, then calls complete() (or release() when it failed). */
  | { kind: "claimed" }
  /** The same request finished before: answer from Connect's current value, do not redo it. */
  | { kind: "replay"; version: number | undefined }
  /** The key was first used for a different request. */
  | { kind: "mismatch" }
  /** The first request with this key is still running. */
  | { kind: "in_progress" };

export interface IdempotencyScope {
  owner: string;
  key: string;
}

export interface IdempotencyStoreOptions {
  ttlSeconds: number;
  maxKeys: number;
  now?: () => number;
}

export class IdempotencyStoreFullError extends Error {
  override readonly name = "IdempotencyStoreFullError";
}

/**
 * A claim whose request never finished (the process died mid-request) blocks its key this long,
 * then the key is free again. Far longer than any request can run (Connect calls time out in at
 * most a minute each), so a live request is never taken over.
 */
export const PENDING_STALE_MS = 5 * 60_000;
/** Expired keys are deleted at most this often (and whenever the store is full). */
const PRUNE_INTERVAL_MS = 60_000;

interface Row {
  fingerprint: string;
  state: "pending" | "done";
  version: number | null;
  created_at: number;
  expires_at: number;
}

/** `IDEMPOTENCY_DB_FILE`, or `idempotency.sqlite` in the audit log's directory. */
export function idempotencyDbFile(config: {
  IDEMPOTENCY_DB_FILE?: string | undefined;
  AUDIT_LOG_FILE: string;
}) {
  return config.IDEMPOTENCY_DB_FILE || join(dirname(config.AUDIT_LOG_FILE), "idempotency.sqlite");
}

export class IdempotencyStore {
  readonly #db: DatabaseSync;
  readonly #ttlMs: number;
  readonly #maxKeys: number;
  readonly #now: () => number;
  readonly #select: StatementSync;
  readonly #insert: StatementSync;
  readonly #delete: StatementSync;
  readonly #complete: StatementSync;
  readonly #release: StatementSync;
  readonly #prune: StatementSync;
  readonly #count: StatementSync;
  #size: number;
  #prunedAt = 0;

  private constructor(db: DatabaseSync, options: IdempotencyStoreOptions) {
    this.#db = db;
    this.#ttlMs = options.ttlSeconds * 1000;
    this.#maxKeys = options.maxKeys;
    this.#now = options.now ?? Date.now;
    this.#select = db.prepare(
      "SELECT fingerprint, state, version, created_at, expires_at FROM idempotency_keys WHERE owner = ? AND key = ?",
    );
    this.#insert = db.prepare(
      "INSERT INTO idempotency_keys (owner, key, fingerprint, state, created_at, expires_at) VALUES (?, ?, ?, 'pending', ?, ?)",
    );
    this.#delete = db.prepare("DELETE FROM idempotency_keys WHERE owner = ? AND key = ?");
    this.#complete = db.prepare(
      "UPDATE idempotency_keys SET state = 'done', version = ? WHERE owner = ? AND key = ? AND state = 'pending'",
    );
    this.#release = db.prepare(
      "DELETE FROM idempotency_keys WHERE owner = ? AND key = ? AND state = 'pending'",
    );
    this.#prune = db.prepare(
      "DELETE FROM idempotency_keys WHERE expires_at <= ? OR (state = 'pending' AND created_at <= ?)",
    );
    this.#count = db.prepare("SELECT COUNT(*) AS n FROM idempotency_keys");
    this.#size = this.#pruneNow();
  }

  /** Opens (creating, mode 0600) the database file and deletes what expired while it was closed. */
  static open(file: string, options: IdempotencyStoreOptions): IdempotencyStore {
    mkdirSync(dirname(file), { recursive: true });
    // SQLite gives its -wal and -shm files the main file's permissions, so create that one first.
    closeSync(openSync(file, "a", 0o600));
    const db = new DatabaseSync(file);
    try {
      // WAL + FULL: a claim or result acknowledged here survives a crash of the process or machine.
      db.exec(`PRAGMA journal_mode = WAL;
        PRAGMA synchronous = FULL;
        PRAGMA busy_timeout = 5000;
        CREATE TABLE IF NOT EXISTS idempotency_keys (
          owner TEXT NOT NULL,
          key TEXT NOT NULL,
          fingerprint TEXT NOT NULL,
          state TEXT NOT NULL CHECK (state IN ('pending', 'done')),
          version INTEGER,
          created_at INTEGER NOT NULL,
          expires_at INTEGER NOT NULL,
          PRIMARY KEY (owner, key)
        ) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS idempotency_keys_expiry ON idempotency_keys (expires_at);`);
      return new IdempotencyStore(db, options);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  get size(): number {
    return this.#size;
  }

  /** Claims the key for this request, or says why it cannot be claimed. Throws IdempotencyStoreFullError. */
  claim(scope: IdempotencyScope, fingerprint: string): Claim {
    const now = this.#now();
    if (now - this.#prunedAt >= PRUNE_INTERVAL_MS || this.#size >= this.#maxKeys) {
      this.#size = this.#pruneNow();
    }
    return this.#transaction(() => {
      const row = this.#select.get(scope.owner, scope.key) as Row | undefined;
      if (row && !this.#lapsed(row, now)) {
        if (row.fingerprint !== fingerprint) return { kind: "mismatch" };
        if (row.state === "pending") return { kind: "in_progress" };
        return { kind: "replay", version: row.version ?? undefined };
      }
      // A lapsed row is replaced in place, so it does not count against the bound.
      if (!row && this.#size >= this.#maxKeys) throw new IdempotencyStoreFullError();
      if (row) this.#delete.run(scope.owner, scope.key);
      this.#insert.run(scope.owner, scope.key, fingerprint, now, now + this.#ttlMs);
      if (!row) this.#size += 1;
      return { kind: "claimed" };
    });
  }

  /** Records the result of a claimed request: from now on the key replays it. */
  complete(scope: IdempotencyScope, version: number | undefined): void {
    this.#complete.run(version ?? null, scope.owner, scope.key);
  }

  /** Frees a claimed key after its request failed, so a retry does the work again. */
  release(scope: IdempotencyScope): void {
    const { changes } = this.#release.run(scope.owner, scope.key);
    this.#size -= Number(changes);
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }

  #lapsed(row: Row, now: number): boolean {
    return row.expires_at <= now || (row.state === "pending" && row.created_at + PENDING_STALE_MS <= now);
  }

  #pruneNow(): number {
    const now = this.#now();
    this.#prunedAt = now;
    this.#prune.run(now, now - PENDING_STALE_MS);
    return Number((this.#count.get() as { n: number }).n);
  }

  #transaction<T>(work: () => T): T {
    // IMMEDIATE takes the write lock up front, so two processes cannot both see a key as free.
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const result = work();
      this.#db.exec("COMMIT");
      return result;
    } catch (error) {
      this.#db.exec("ROLLBACK");
      throw error;
    }
  }
}
