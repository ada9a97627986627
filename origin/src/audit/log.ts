import type { AuditEntry, AuditListResponse, AuditQuery } from "@chittyconnect/contract";
import { verifyChain } from "./chain.ts";
import { type AuditRecord, entryHash, GENESIS_HASH } from "./entry.ts";
import type { AuditSink } from "./sink.ts";

export class AuditChainBrokenError extends Error {
  override readonly name = "AuditChainBrokenError";
}

/**
 * The append-only, hash-chained audit log. One writer: appends queue behind each other so seq and
 * prevHash are assigned in file order. A failed write leaves seq/prevHash where they were.
 */
export class AuditLog {
  readonly #sink: AuditSink;
  readonly #now: () => Date;
  #seq: number;
  #prevHash: string;
  #queue: Promise<unknown> = Promise.resolve();

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
    const write = this.#queue.then(async () => {
      const unsigned = {
        ...record,
        seq: this.#seq + 1,
        at: this.#now().toISOString(),
        prevHash: this.#prevHash,
      };
      const entry: AuditEntry = { ...unsigned, hash: entryHash(unsigned) };
      await this.#sink.append(`${JSON.stringify(entry)}\n`);
      this.#seq = entry.seq;
      this.#prevHash = entry.hash;
      return entry;
    });
    this.#queue = write.catch(() => undefined);
    return write;
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
    await this.#queue;
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
