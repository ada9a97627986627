import { closeSync, openSync } from "node:fs";
import { DatabaseSync, type StatementSync } from "node:sqlite";

/** Where one entry's line is: enough to read it alone. */
export interface IndexedLine {
  seq: number;
  owner: string;
  segment: number;
  offset: number;
  length: number;
}

/**
 * Per-owner positions of audit lines in SQLite (node:sqlite, no dependency), so one owner's page
 * reads only that owner's lines. It is a cache of the segments: the start-up verification fills in
 * what is missing and drops what the log no longer has, and every line read through it is checked
 * again (MAC, seq, owner) before it is served. Durability is relaxed for the same reason.
 */
export class OwnerIndex {
  readonly #db: DatabaseSync;
  readonly #insert: StatementSync;
  readonly #page: StatementSync;
  readonly #bySeq: StatementSync;

  constructor(file: string) {
    // Created 0600 like the segments (it names owners); SQLite gives its -wal and -shm files the same mode.
    closeSync(openSync(file, "a", 0o600));
    this.#db = new DatabaseSync(file);
    this.#db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = NORMAL;
      PRAGMA cache_size = -2048;
      CREATE TABLE IF NOT EXISTS entries (
        seq INTEGER PRIMARY KEY,
        owner TEXT NOT NULL,
        segment INTEGER NOT NULL,
        offset INTEGER NOT NULL,
        length INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS entries_owner_seq ON entries (owner, seq);
    `);
    this.#insert = this.#db.prepare(
      "INSERT OR REPLACE INTO entries (seq, owner, segment, offset, length) VALUES (?, ?, ?, ?, ?)",
    );
    this.#page = this.#db.prepare(
      "SELECT seq, owner, segment, offset, length FROM entries WHERE owner = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
    );
    this.#bySeq = this.#db.prepare("SELECT seq, owner, segment, offset, length FROM entries WHERE seq = ?");
  }

  /** The highest indexed seq (0 when empty). */
  maxSeq(): number {
    const row = this.#db.prepare("SELECT COALESCE(MAX(seq), 0) AS max FROM entries").get() as { max: number };
    return row.max;
  }

  add(lines: readonly IndexedLine[]): void {
    if (lines.length === 0) return;
    this.#db.exec("BEGIN");
    try {
      for (const l of lines) this.#insert.run(l.seq, l.owner, l.segment, l.offset, l.length);
      this.#db.exec("COMMIT");
    } catch (error) {
      this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  /** Drops positions past the log's head (its tail was cut, or the index outlived a crash). */
  truncateAfter(seq: number): void {
    this.#db.prepare("DELETE FROM entries WHERE seq > ?").run(seq);
  }

  /** One owner's lines with seq < before, newest first. */
  page(owner: string, before: number, limit: number): IndexedLine[] {
    return this.#page.all(owner, before, limit) as unknown as IndexedLine[];
  }

  find(seq: number): IndexedLine | undefined {
    return this.#bySeq.get(seq) as unknown as IndexedLine | undefined;
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}
