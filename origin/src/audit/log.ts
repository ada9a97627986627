import { fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { type FileHandle, mkdir, open, stat, truncate } from "node:fs/promises";
import { dirname } from "node:path";
import type { AuditListResponse, AuditQuery } from "@chittyconnect/contract";
import type { ChainHead } from "./anchor.ts";
import type { ChainResult } from "./chain.ts";
import { DiskGuard } from "./disk.ts";
import { type AuditRecord, genesisHash, openLine, type StoredEntry, sealEntry } from "./entry.ts";
import { type IndexedLine, OwnerIndex } from "./owner-index.ts";
import { listSegments, segmentPath, type TornTail } from "./segments.ts";
import { type AuditSink, SegmentedFileSink } from "./sink.ts";
import { type VerifyJob, verifyAndIndex } from "./verify-job.ts";

export class AuditChainBrokenError extends Error {
  override readonly name = "AuditChainBrokenError";
}

/** The log stopped accepting entries (its chain no longer matches the edge's anchor). */
export class AuditRefusedError extends Error {
  override readonly name = "AuditRefusedError";
}

/** Lines written with one write + datasync at most; bounds the size of a single write. */
const MAX_BATCH = 256;

export interface AuditLogOptions {
  /** Base path: segments are `<base>.000001`, …; the index is `<base>.index.sqlite`. */
  base: string;
  /** Keys the chain's MACs. */
  key: string;
  segmentBytes: number;
  /** Refuse writes while fewer bytes than this are free on the log's volume (0: never). */
  diskReserveBytes: number;
  /** Pins the chain's instance id; a log of another instance is refused. Generated when unset. */
  instance?: string | undefined;
  /** The head the edge holds for this instance, when it could be fetched. */
  anchor?: ChainHead | undefined;
  now?: () => Date;
  /** Replaces the segment files (tests make writing fail). */
  sink?: AuditSink;
  /** Verify in a child process from this log size on (tests lower it). */
  verifyInWorkerBytes?: number;
  /** Told about a torn last line that was cut off at start (a crash mid-write). */
  onTornTail?: (tail: TornTail) => void;
}

interface Pending {
  record: AuditRecord;
  resolve: (entry: StoredEntry) => void;
  reject: (error: unknown) => void;
}

/**
 * Logs at least this large are verified in a child process (see verify-worker.ts); below it,
 * starting one costs more than the little memory a short pass leaves behind.
 */
const DEFAULT_VERIFY_IN_WORKER_BYTES = 16 * 1024 * 1024;

async function logBytes(base: string): Promise<number> {
  let total = 0;
  for (const segment of await listSegments(base)) total += (await stat(segmentPath(base, segment))).size;
  return total;
}

function verifyInWorker(job: VerifyJob): Promise<ChainResult> {
  return new Promise((resolve, reject) => {
    const child = fork(new URL("./verify-worker.ts", import.meta.url), {
      // The origin's small young generation saves memory in a long-lived server; this short pass
      // over every line is faster with the default.
      env: { ...process.env, NODE_OPTIONS: "--disable-warning=ExperimentalWarning" },
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let result: ChainResult | undefined;
    child.once("message", (message) => {
      result = message as ChainResult;
    });
    child.once("error", reject);
    child.once("exit", (code) => {
      if (result) resolve(result);
      else reject(new Error(`audit verification process exited with code ${code}`));
    });
    child.send(job);
  });
}

/**
 * The append-only, keyed hash chain of audit lines, in size-bounded segments with a per-owner
 * index. One writer with group commit: appends that arrive while a flush is on its way to disk are
 * written together by the next flush (one write, one datasync). seq, at and prevHash are assigned
 * when a batch is written, so a failed batch leaves them where they were.
 */
export class AuditLog {
  readonly #base: string;
  readonly #key: string;
  readonly #sink: AuditSink;
  readonly #index: OwnerIndex;
  readonly #disk: DiskGuard;
  readonly #now: () => Date;
  readonly #listeners = new Set<(head: ChainHead) => void>();
  readonly instance: string;
  #seq: number;
  #prevHash: string;
  #pending: Pending[] = [];
  #flushing: Promise<void> | undefined;
  #indexFailed = false;
  #refused: string | undefined;

  private constructor(init: {
    options: AuditLogOptions;
    sink: AuditSink;
    index: OwnerIndex;
    instance: string;
    head: ChainHead | undefined;
  }) {
    const { options } = init;
    this.#base = options.base;
    this.#key = options.key;
    this.#sink = init.sink;
    this.#index = init.index;
    this.#disk = new DiskGuard(dirname(options.base), options.diskReserveBytes);
    this.#now = options.now ?? (() => new Date());
    this.instance = init.instance;
    this.#seq = init.head?.seq ?? 0;
    this.#prevHash = init.head?.hash ?? genesisHash(options.key, init.instance);
  }

  /**
   * Verifies the whole log in one streaming pass (against the anchor when given), brings the index
   * up to date, cuts off a torn last line, and resumes. A broken chain refuses start-up: appending
   * to a log that was tampered with would bury the evidence, so an operator must look first.
   */
  static async open(options: AuditLogOptions): Promise<AuditLog> {
    const { base, key } = options;
    if (existsSync(base)) {
      throw new AuditChainBrokenError(
        `${base} is an audit log from before segments and keyed chains; keep it for the record, ` +
          "move it aside, and start again (the new log is written to numbered segments beside it).",
      );
    }
    await mkdir(dirname(base), { recursive: true, mode: 0o700 });
    const indexFile = `${base}.index.sqlite`;
    const job = { base, key, indexFile, anchor: options.anchor };
    const inWorker =
      (await logBytes(base)) >= (options.verifyInWorkerBytes ?? DEFAULT_VERIFY_IN_WORKER_BYTES);
    const result = inWorker ? await verifyInWorker(job) : await verifyAndIndex(job);
    if (!result.ok) {
      throw new AuditChainBrokenError(
        `Audit log ${base} is broken in ${segmentPath(base, result.segment)} at line ${result.line}: ` +
          `${result.reason}. Inspect it with \`npm run audit:verify\`; move the segments aside to start a new chain.`,
      );
    }
    const head = result.head;
    if (result.torn) {
      await truncate(segmentPath(base, result.torn.segment), result.torn.offset);
      options.onTornTail?.(result.torn);
    }
    if (options.instance && head && head.instance !== options.instance) {
      throw new AuditChainBrokenError(
        `Audit log ${base} belongs to instance ${head.instance}, but AUDIT_INSTANCE_ID is ${options.instance}.`,
      );
    }
    const index = new OwnerIndex(indexFile);
    try {
      const instance = head?.instance ?? options.instance ?? `origin-${randomBytes(8).toString("hex")}`;
      const segments = await listSegments(base);
      const sink =
        options.sink ??
        new SegmentedFileSink(base, {
          segment: segments[segments.length - 1] ?? 1,
          segmentBytes: options.segmentBytes,
        });
      return new AuditLog({ options, sink, index, instance, head });
    } catch (error) {
      index.close();
      throw error;
    }
  }

  /** The last written entry's seq and hash (seq 0 before the first). */
  head(): ChainHead {
    return { instance: this.instance, seq: this.#seq, hash: this.#prevHash };
  }

  /** Called after every durable batch with the new head (the anchor reporter listens). */
  onAppend(listener: (head: ChainHead) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Stops accepting entries until an operator has looked (and restarted the origin). */
  refuse(reason: string): void {
    this.#refused = reason;
  }

  /**
   * Throws AuditDiskFullError while the volume is under its reserve (AuditRefusedError after
   * refuse()): call before doing the work, so nothing is done that cannot be recorded.
   */
  async ensureCapacity(): Promise<void> {
    if (this.#refused) throw new AuditRefusedError(this.#refused);
    await this.#disk.ensure();
  }

  /** Appends one entry; resolves once it is durable, rejects if it could not be written. */
  append(record: AuditRecord): Promise<StoredEntry> {
    if (this.#refused) return Promise.reject(new AuditRefusedError(this.#refused));
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
      const sealed = batch.map(({ record }) => {
        seq += 1;
        const unsigned = { seq, at, instance: this.instance, ...record, prevHash };
        const { line, hash } = sealEntry(this.#key, unsigned);
        prevHash = hash;
        return { seq, line: `${line}\n`, entry: { ...unsigned, hash }, owner: record.owner };
      });
      const text = sealed.map((s) => s.line).join("");
      try {
        const bytes = Buffer.byteLength(text);
        await this.#disk.ensure(bytes);
        const position = await this.#sink.append(text);
        this.#disk.consumed(bytes);
        this.#seq = seq;
        this.#prevHash = prevHash;
        this.#indexBatch(sealed, position);
        for (const [i, pending] of batch.entries()) pending.resolve(sealed[i]!.entry);
        const head = this.head();
        for (const listener of this.#listeners) listener(head);
      } catch (error) {
        for (const pending of batch) pending.reject(error);
      }
    }
    this.#flushing = undefined;
  }

  #indexBatch(
    sealed: { seq: number; line: string; owner: string }[],
    position: { segment: number; offset: number },
  ) {
    if (this.#indexFailed) return;
    let offset = position.offset;
    const rows = sealed.map((s) => {
      const length = Buffer.byteLength(s.line) - 1;
      const row = { seq: s.seq, owner: s.owner, segment: position.segment, offset, length };
      offset += length + 1;
      return row;
    });
    try {
      this.#index.add(rows);
    } catch {
      // The lines are durable; only the index lags. Listing refuses until a restart rebuilds it.
      this.#indexFailed = true;
    }
  }

  /** One owner's entries, newest first, read line by line through the index. */
  async list(owner: string, query: AuditQuery): Promise<AuditListResponse> {
    if (this.#indexFailed) throw new Error("audit index is behind the log; restart the origin to rebuild it");
    const rows = this.#index.page(owner, query.before ?? Number.MAX_SAFE_INTEGER, query.limit + 1);
    const entries = await this.#readRows(rows.slice(0, query.limit));
    for (const [i, entry] of entries.entries()) {
      if (entry.owner !== owner || entry.seq !== rows[i]!.seq) {
        throw new Error(`audit index does not match the log at seq ${rows[i]!.seq}`);
      }
    }
    const last = entries[entries.length - 1];
    return rows.length > query.limit && last ? { entries, nextBefore: last.seq } : { entries };
  }

  /** Whether the log holds exactly this head (checks an anchor without reading the log). */
  async contains(head: ChainHead): Promise<boolean> {
    if (head.instance !== this.instance || head.seq > this.#seq) return false;
    if (head.seq === 0) return true;
    const row = this.#index.find(head.seq);
    if (!row) return false;
    const [entry] = await this.#readRows([row]);
    return entry?.seq === head.seq && entry.hash === head.hash;
  }

  /** Reads the lines in parallel (the thread pool overlaps them), one handle per segment. */
  async #readRows(rows: readonly IndexedLine[]): Promise<StoredEntry[]> {
    const handles = new Map<number, Promise<FileHandle>>();
    const handle = (segment: number) => {
      let opened = handles.get(segment);
      if (!opened) {
        opened = open(segmentPath(this.#base, segment), "r");
        handles.set(segment, opened);
      }
      return opened;
    };
    try {
      return await Promise.all(
        rows.map(async (row) => {
          const buffer = Buffer.alloc(row.length);
          const { bytesRead } = await (await handle(row.segment)).read(buffer, 0, row.length, row.offset);
          const opened = openLine(this.#key, buffer.subarray(0, bytesRead).toString("utf8"));
          if (!opened.ok) throw new Error(`audit line at seq ${row.seq} does not verify: ${opened.reason}`);
          return opened.entry;
        }),
      );
    } finally {
      const settled = await Promise.allSettled(handles.values());
      for (const result of settled) if (result.status === "fulfilled") await result.value.close();
    }
  }

  async close(): Promise<void> {
    await this.#flushing;
    await this.#sink.close();
    this.#index.close();
  }
}
