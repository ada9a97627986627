import type { ChainHead } from "./anchor.ts";
import { genesisHash, openLine, type StoredEntry } from "./entry.ts";
import { listSegments, readLines, type SegmentLine, type TornTail } from "./segments.ts";

export type { ChainHead };

export type ChainResult =
  | {
      ok: true;
      count: number;
      head: ChainHead | undefined;
      /** A partial last line (crash mid-write); the writer cuts it off when it opens the log. */
      torn: TornTail | undefined;
      /** Whether the anchor given was found in the log (undefined when none was given). */
      anchored: boolean | undefined;
    }
  | { ok: false; segment: number; line: number; reason: string };

export interface VerifyOptions {
  /** The head the edge holds: the log must contain exactly this entry, or it was cut or rewritten. */
  anchor?: ChainHead | undefined;
  /** Called with every verified line, in order (the index catches up from here). */
  onEntry?: (entry: StoredEntry, line: SegmentLine) => void | Promise<void>;
}

/**
 * Checks the log beside `base` in one streaming pass: every line carries a valid MAC under the
 * chain key, seq counts up from 1 across segments, prevHash links each line to the one before (the
 * first to the instance's keyed genesis), all lines belong to one instance, and the anchor, when
 * given, is in the log. Memory stays flat with the log's size. Lines are numbered per segment.
 */
export async function verifyLog(
  base: string,
  key: string,
  options: VerifyOptions = {},
): Promise<ChainResult> {
  const segments = await listSegments(base);
  let previous: StoredEntry | undefined;
  let count = 0;
  let torn: TornTail | undefined;
  let lineNumber = 0;
  let currentSegment = segments[0] ?? 1;
  let anchored: boolean | undefined = options.anchor ? false : undefined;
  for (const [index, segment] of segments.entries()) {
    if (segment !== index + 1) {
      return {
        ok: false,
        segment,
        line: 0,
        reason: `segment ${index + 1} is missing (segments must count up from 1)`,
      };
    }
  }
  for await (const line of readLines(base, segments, (tail) => {
    torn = tail;
  })) {
    if (torn) {
      // A torn line followed by more lines is not a crash mid-write: the segment was cut or edited.
      return {
        ok: false,
        segment: torn.segment,
        line: lineNumber + 1,
        reason: "segment ends with a partial line",
      };
    }
    if (line.segment !== currentSegment) {
      currentSegment = line.segment;
      lineNumber = 0;
    }
    lineNumber++;
    const broken = (reason: string): ChainResult => ({
      ok: false,
      segment: line.segment,
      line: lineNumber,
      reason,
    });
    const opened = openLine(key, line.text);
    if (!opened.ok) return broken(opened.reason);
    const entry = opened.entry;
    const expectedSeq = (previous?.seq ?? 0) + 1;
    if (entry.seq !== expectedSeq) {
      return broken(`seq is ${entry.seq}, expected ${expectedSeq} (line deleted, inserted or reordered)`);
    }
    if (previous && entry.instance !== previous.instance) {
      return broken(
        `instance is ${entry.instance}, the chain's is ${previous.instance} (lines from another log)`,
      );
    }
    const expectedPrev = previous ? previous.hash : genesisHash(key, entry.instance);
    if (entry.prevHash !== expectedPrev)
      return broken("prevHash does not match the previous line's hash (chain broken)");
    if (options.anchor && entry.seq === options.anchor.seq) {
      if (entry.instance !== options.anchor.instance || entry.hash !== options.anchor.hash) {
        return broken("this entry differs from the head the edge anchored (log rewritten)");
      }
      anchored = true;
    }
    await options.onEntry?.(entry, line);
    previous = entry;
    count++;
  }
  if (torn && (torn as TornTail).segment !== segments[segments.length - 1]) {
    return {
      ok: false,
      segment: (torn as TornTail).segment,
      line: lineNumber + 1,
      reason: "segment ends with a partial line",
    };
  }
  const head = previous ? { instance: previous.instance, seq: previous.seq, hash: previous.hash } : undefined;
  if (options.anchor && head && head.instance !== options.anchor.instance) {
    return {
      ok: false,
      segment: currentSegment,
      line: lineNumber,
      reason: `the log belongs to instance ${head.instance}, the anchor to ${options.anchor.instance}`,
    };
  }
  if (options.anchor && options.anchor.seq > (head?.seq ?? 0)) {
    return {
      ok: false,
      segment: currentSegment,
      line: lineNumber,
      reason: `the log ends at seq ${head?.seq ?? 0} but the edge anchored seq ${options.anchor.seq} (tail cut)`,
    };
  }
  return { ok: true, count, head, torn, anchored };
}

/** The instance id of an existing log (its first line's), without reading the rest. */
export async function readLogInstance(base: string, key: string): Promise<string | undefined> {
  const segments = await listSegments(base);
  for await (const line of readLines(base, segments.slice(0, 1), () => {})) {
    const opened = openLine(key, line.text);
    return opened.ok ? opened.entry.instance : undefined;
  }
  return undefined;
}
