import type { ChainHead } from "./anchor.ts";
import { type ChainResult, verifyLog } from "./chain.ts";
import { type IndexedLine, OwnerIndex } from "./owner-index.ts";

export interface VerifyJob {
  base: string;
  key: string;
  indexFile: string;
  anchor: ChainHead | undefined;
}

/** Index rows written per transaction while catching up. */
const INDEX_BATCH = 10_000;

/**
 * The start-up verification: one streaming pass over every segment that also brings the owner
 * index up to date (adds what it lacks, drops what the log no longer has).
 */
export async function verifyAndIndex(job: VerifyJob): Promise<ChainResult> {
  const index = new OwnerIndex(job.indexFile);
  try {
    const indexedUpTo = index.maxSeq();
    let rows: IndexedLine[] = [];
    const result = await verifyLog(job.base, job.key, {
      anchor: job.anchor,
      onEntry: (entry, line) => {
        if (entry.seq <= indexedUpTo) return;
        rows.push({
          seq: entry.seq,
          owner: entry.owner,
          segment: line.segment,
          offset: line.offset,
          length: line.length,
        });
        if (rows.length >= INDEX_BATCH) {
          index.add(rows);
          rows = [];
        }
      },
    });
    if (result.ok) {
      index.add(rows);
      index.truncateAfter(result.head?.seq ?? 0);
    }
    return result;
  } finally {
    index.close();
  }
}
