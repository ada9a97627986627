import { constants } from "node:fs";
import { type FileHandle, mkdir, open, readFile } from "node:fs/promises";
import { dirname } from "node:path";

/** Where audit lines go. Injectable so tests can make writing fail. */
export interface AuditSink {
  /** Appends complete lines (each with its newline) and resolves only once they are durable. */
  append(line: string): Promise<void>;
  /** The whole log as written so far ("" when empty). */
  read(): Promise<string>;
  close(): Promise<void>;
}

/** An O_APPEND file, datasync'd after every line so an acknowledged request is on disk. */
export class FileAuditSink implements AuditSink {
  readonly file: string;
  #handle: FileHandle | undefined;
  #poisoned = false;

  constructor(file: string) {
    this.file = file;
  }

  async append(line: string): Promise<void> {
    if (this.#poisoned) throw new Error(`audit log ${this.file} is in an unknown state after a failed write`);
    const handle = await this.#open();
    const sizeBefore = (await handle.stat()).size;
    try {
      await handle.write(line);
      await handle.datasync();
    } catch (error) {
      // The line may be partly or wholly on disk although the caller is told it failed; cut it
      // off so the chain on disk matches what the log believes, or stop appending altogether.
      try {
        await handle.truncate(sizeBefore);
        await handle.datasync();
      } catch {
        this.#poisoned = true;
      }
      throw error;
    }
  }

  async read(): Promise<string> {
    try {
      return await readFile(this.file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return "";
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
    await mkdir(dirname(this.file), { recursive: true });
    this.#handle = await open(this.file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600);
    return this.#handle;
  }
}
