import { constants } from "node:fs";
import { type FileHandle, mkdir, open, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { segmentPath } from "./segments.ts";

/** Where a batch landed: its segment and the byte offset of its first line. */
export interface AppendPosition {
  segment: number;
  offset: number;
}

/** Where audit lines go. Injectable so tests can make writing fail. */
export interface AuditSink {
  /** Appends complete lines (each with its newline); resolves once they are durable. */
  append(lines: string): Promise<AppendPosition>;
  close(): Promise<void>;
}

/**
 * Segment files beside a base path, each O_APPEND and datasync'd after every batch so an
 * acknowledged request is on disk. A batch that would take the current segment past
 * `segmentBytes` starts the next segment; a batch is never split across two.
 */
export class SegmentedFileSink implements AuditSink {
  readonly base: string;
  readonly #segmentBytes: number;
  #segment: number;
  #size = 0;
  #handle: FileHandle | undefined;
  #poisoned = false;

  /** `segment` is the highest existing segment (or 1 for a new log). */
  constructor(base: string, options: { segment: number; segmentBytes: number }) {
    this.base = base;
    this.#segment = options.segment;
    this.#segmentBytes = options.segmentBytes;
  }

  async append(lines: string): Promise<AppendPosition> {
    if (this.#poisoned) throw new Error("audit segment is in an unknown state after a failed write");
    let handle = await this.#open();
    const bytes = Buffer.byteLength(lines);
    if (this.#size > 0 && this.#size + bytes > this.#segmentBytes) {
      await this.close();
      this.#segment++;
      handle = await this.#open();
    }
    const position = { segment: this.#segment, offset: this.#size };
    try {
      await handle.write(lines);
      await handle.datasync();
      this.#size += bytes;
      return position;
    } catch (error) {
      // The lines may be partly or wholly on disk although the caller is told they failed; cut them
      // off so the chain on disk matches what the log believes, or stop appending altogether.
      try {
        await handle.truncate(position.offset);
        await handle.datasync();
      } catch {
        this.#poisoned = true;
      }
      throw error;
    }
  }

  async close(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close();
  }

  async #open(): Promise<FileHandle> {
    if (this.#handle) return this.#handle;
    const file = segmentPath(this.base, this.#segment);
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    this.#handle = await open(file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600);
    this.#size = (await stat(file)).size;
    return this.#handle;
  }
}
