import type { AuditEntry, AuditListResponse, AuditQuery } from "@chittyconnect/contract";
import { verifyChain } from "./chain.ts";
import { type AuditRecord, entryHash, GENESIS_HASH } from "./entry.ts";
import type { AuditSink } from "./sink.ts";

export class AuditChainBrokenError extends Error {
  override readonly name = "AuditChainBrokenError";
}

/** Lines written with one write + datasync at most; bounds the size of a single write. */
const MAX_BATCH = 256;

interface Pending {
  record: AuditRecord;
  resolve: (entry: AuditEntry) => void;
  reject: (error: unknown) => void;
}

/**
 * The append-only, hash-chained audit log. One writer with group commit: appends that arrive while
 * a flush is on its way to disk are written together by the next flush (one write, one datasync),
 * so durability costs one disk sync per batch rather than per request. seq, at and prevHash are
 * assigned when a batch is written, so a failed batch leaves them where they were.
 */
export class AuditLog {
  readonly #sink: AuditSink;
  readonly #now: () => Date;
  #seq: number;
  #prevHash: string;
  #pending: Pending[] = [];
  #flushing: Promise<void> | undefined;

  private constructor(sink: AuditSink, last: AuditEntry | undefined, now: () => Date) {
    this.#sink = sink;
    this.#now = now;
    this.#seq = last?.seq ?? 0;
    this.#prevHash = last?.hash ?? GENESIS_HASH;
  }

  /**
   * Resumes from the existing log. A broken chain refuses start-up: appending to a log that was
   * tampered with (or torn) would bury the evidence, so an operator must look first.
   */
  static async open(sink: AuditSink, options: { now?: () => Date; source?: string } = {}): Promise<AuditLog> {
    const result = verifyChain(await sink.read());
    if (!result.ok) {
      throw new AuditChainBrokenError(
        `Audit log ${options.source ?? ""} is broken at line ${result.line}: ${result.reason}. ` +
          "Inspect it with `npm run audit:verify`; move it aside to start a new chain.",
      );
    }
    return new AuditLog(sink, result.last, options.now ?? (() => new Date()));
  }

  /** Appends one entry; resolves once it is durable, rejects if it could not be written. */
  append(record: AuditRecord): Promise<AuditEntry> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ record, resolve, reject });
      this.#flushing ??= this.#flush();
    });
  }

  async #flush(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0, MAX_BATCH);
      let seq = this.#seq;
      let prevHash = this.#prevHash;
      const at = this.#now().toISOString();
      const entries = batch.map(({ record }): AuditEntry => {
        seq += 1;
        const unsigned = { ...record, seq, at, prevHash };
        const entry = { ...unsigned, hash: entryHash(unsigned) };
        prevHash = entry.hash;
        return entry;
      });
      try {
        await this.#sink.append(entries.map((entry) => `${JSON.stringify(entry)}\n`).join(""));
        this.#seq = seq;
        this.#prevHash = prevHash;
        for (const [index, pending] of batch.entries()) pending.resolve(entries[index]!);
      } catch (error) {
        for (const pending of batch) pending.reject(error);
      }
    }
    this.#flushing = undefined;
  }

  /**
   * One owner's entries, newest first. Reads the whole file each time: fine for a single origin's
   * volume, but a busy deployment needs an index (or rotation of the file) before this scales.
   */
  async list(owner: string, query: AuditQuery): Promise<AuditListResponse> {
    const text = await this.#sink.read();
    const mine: AuditEntry[] = [];
    for (const line of text.split("\n")) {
      const entry = parseLine(line);
      if (!entry) continue;
      if (entry.owner === owner && (query.before === undefined || entry.seq < query.before)) mine.push(entry);
    }
    mine.reverse();
    const entries = mine.slice(0, query.limit);
    const last = entries[entries.length - 1];
    return mine.length > entries.length && last ? { entries, nextBefore: last.seq } : { entries };
  }

  async close(): Promise<void> {
    await this.#flushing;
    await this.#sink.close();
  }
}

/** A line being appended while we read can be seen half-written; it is skipped, not fatal. */
function parseLine(line: string): AuditEntry | undefined {
  if (line === "") return undefined;
  try {
    return JSON.parse(line) as AuditEntry;
  } catch {
    return undefined;
  }
}
