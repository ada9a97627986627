import { Transform, type TransformCallback } from "node:stream";

export const CONCEALED = "<concealed by chittyconnect>";

/**
 * Replaces every occurrence of any value with `CONCEALED`, leftmost-longest, on bytes: the same output
 * however the input is cut into chunks (a value split across two writes of the child is still masked),
 * because a byte is only let through once the bytes after it rule out a value starting there.
 */
export class Masker {
  readonly #values: Buffer[];
  readonly #longest: number;
  readonly #mask = Buffer.from(CONCEALED);
  #pending = Buffer.alloc(0);

  constructor(values: Iterable<string>) {
    // Longest first, so at one position the longest value wins ("abc" before "ab").
    this.#values = [...new Set(values)]
      .filter((value) => value.length > 0)
      .map((value) => Buffer.from(value))
      .sort((a, b) => b.length - a.length);
    this.#longest = this.#values[0]?.length ?? 0;
  }

  /** The masked bytes that can be released now; the rest waits for the next chunk or `end()`. */
  push(chunk: Buffer): Buffer {
    return this.#scan(Buffer.concat([this.#pending, chunk]), false);
  }

  /** Everything still held, masked. */
  end(): Buffer {
    return this.#scan(this.#pending, true);
  }

  #scan(buffer: Buffer, final: boolean): Buffer {
    if (this.#longest === 0) {
      this.#pending = Buffer.alloc(0);
      return buffer;
    }
    // Positions up to `decidable` have all the bytes a value starting there could need.
    const decidable = final ? buffer.length - 1 : buffer.length - this.#longest;
    const out: Buffer[] = [];
    let at = 0;
    for (;;) {
      let matchAt = -1;
      let matchLength = 0;
      for (const value of this.#values) {
        const index = buffer.indexOf(value, at);
        if (index >= 0 && (matchAt < 0 || index < matchAt)) {
          matchAt = index;
          matchLength = value.length;
        }
      }
      if (matchAt < 0 || matchAt > decidable) {
        const release = Math.max(at, decidable + 1);
        out.push(buffer.subarray(at, release));
        this.#pending = Buffer.from(buffer.subarray(release));
        return Buffer.concat(out);
      }
      out.push(buffer.subarray(at, matchAt), this.#mask);
      at = matchAt + matchLength;
    }
  }
}

/** A stream that masks what passes through it (the child's stdout or stderr on its way to ours). */
export function maskingStream(values: Iterable<string>): Transform {
  const masker = new Masker(values);
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      callback(null, masker.push(chunk));
    },
    flush(callback: TransformCallback) {
      callback(null, masker.end());
    },
  });
}
