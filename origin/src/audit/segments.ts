import { createReadStream } from "node:fs";
import { readdir } from "node:fs/promises";
import { basename, dirname } from "node:path";

/**
 * An audit log is a base path plus numbered segment files beside it: `<base>.000001`,
 * `<base>.000002`, … The writer appends to the highest one and starts the next at a size limit,
 * so no file grows without bound and a reader only ever opens the segment it needs.
 */
const SEGMENT_DIGITS = 6;

export function segmentPath(base: string, segment: number): string {
  return `${base}.${String(segment).padStart(SEGMENT_DIGITS, "0")}`;
}

/** The segment numbers present beside `base`, ascending ([] when none, or no directory). */
export async function listSegments(base: string): Promise<number[]> {
  let names: string[];
  try {
    names = await readdir(dirname(base));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  const prefix = `${basename(base)}.`;
  const pattern = new RegExp(`^\\d{${SEGMENT_DIGITS},}$`);
  return names
    .filter((name) => name.startsWith(prefix) && pattern.test(name.slice(prefix.length)))
    .map((name) => Number(name.slice(prefix.length)))
    .sort((a, b) => a - b);
}

export interface SegmentLine {
  segment: number;
  /** Byte offset of the line's first byte in its segment. */
  offset: number;
  /** Length in bytes, without the newline. */
  length: number;
  text: string;
}

/** Bytes after the last newline of a segment: a line whose write never completed. */
export interface TornTail {
  segment: number;
  offset: number;
  bytes: number;
}

/**
 * Streams the lines of the given segments in order with their byte positions. Memory is one read
 * chunk plus at most one line; a partial last line of a segment is reported through `onTorn`.
 */
export async function* readLines(
  base: string,
  segments: readonly number[],
  onTorn: (tail: TornTail) => void,
): AsyncGenerator<SegmentLine> {
  for (const segment of segments) {
    let carry: Buffer | undefined;
    let carryOffset = 0;
    let position = 0;
    for await (const chunk of createReadStream(segmentPath(base, segment), { highWaterMark: 1 << 20 })) {
      const buffer = chunk as Buffer;
      let start = 0;
      let newline = buffer.indexOf(10, start);
      while (newline !== -1) {
        const piece = buffer.subarray(start, newline);
        const lineBytes = carry ? Buffer.concat([carry, piece]) : piece;
        const offset = carry ? carryOffset : position + start;
        carry = undefined;
        yield { segment, offset, length: lineBytes.length, text: lineBytes.toString("utf8") };
        start = newline + 1;
        newline = buffer.indexOf(10, start);
      }
      if (start < buffer.length) {
        const rest = buffer.subarray(start);
        if (!carry) carryOffset = position + start;
        carry = carry ? Buffer.concat([carry, rest]) : Buffer.from(rest);
      }
      position += buffer.length;
    }
    if (carry) onTorn({ segment, offset: carryOffset, bytes: carry.length });
  }
}
