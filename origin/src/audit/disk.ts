import { statfs } from "node:fs/promises";

export class AuditDiskFullError extends Error {
  override readonly name = "AuditDiskFullError";
}

/** How long a free-space reading is trusted; bounds statfs calls under load. */
const RECHECK_MS = 1000;

/**
 * Refuses audit writes (and, through the service, the work they record) while the volume's free
 * space is under the reserve, so the log never fills the disk mid-line and the operator gets a clear
 * 503 instead of a torn write. The reading is cached for a second.
 */
export class DiskGuard {
  readonly #dir: string;
  readonly #reserveBytes: number;
  readonly #now: () => number;
  #checkedAt = Number.NEGATIVE_INFINITY;
  #freeBytes = Number.POSITIVE_INFINITY;

  constructor(dir: string, reserveBytes: number, now: () => number = Date.now) {
    this.#dir = dir;
    this.#reserveBytes = reserveBytes;
    this.#now = now;
  }

  /** Throws AuditDiskFullError when fewer than the reserve bytes (plus `needed`) are free. */
  async ensure(needed = 0): Promise<void> {
    if (this.#reserveBytes === 0) return;
    if (this.#now() - this.#checkedAt >= RECHECK_MS) {
      const stats = await statfs(this.#dir);
      this.#freeBytes = stats.bavail * stats.bsize;
      this.#checkedAt = this.#now();
    }
    if (this.#freeBytes - needed < this.#reserveBytes) {
      throw new AuditDiskFullError(
        `audit volume has ${this.#freeBytes} bytes free, under the reserve of ${this.#reserveBytes}`,
      );
    }
  }

  /** Counts bytes written since the last reading, so the cache errs towards refusing. */
  consumed(bytes: number): void {
    this.#freeBytes -= bytes;
  }
}
