import type { UsageRow } from "./ledger.ts";

/** How long an isolate collects one owner's entries before it writes them in one call. */
export const USAGE_BATCH_MS = 100;

type Write = (owner: string, rows: UsageRow[]) => Promise<void>;

/**
 * Sums usage entries per owner, day and route class inside one isolate and writes each owner's sums
 * in one call to its ledger object, `USAGE_BATCH_MS` after the first entry of a batch. One RPC and
 * one transaction per batch instead of per request: the ledger was half of the platform stack's cost
 * (`./run bench platform`).
 *
 * The request that opens a batch owns its write (the promise it hands to `waitUntil`); later requests
 * only add to the sums, synchronously, so no request waits on another request's I/O. A batch that
 * has started writing is closed; the next entry opens a new one. What an isolate loses when it is
 * evicted mid-batch is at most `USAGE_BATCH_MS` of one owner's entries, the same exposure as a write
 * per request left pending in `waitUntil`.
 */
export class UsageBatcher {
  readonly #pending = new Map<string, Map<string, UsageRow>>();
  readonly #delayMs: number;

  constructor(delayMs = USAGE_BATCH_MS) {
    this.#delayMs = delayMs;
  }

  /**
   * Adds one row to `owner`'s open batch. When this opened the batch, returns the promise of its
   * write (with `write`), for the caller's `waitUntil`; otherwise undefined.
   */
  add(owner: string, row: UsageRow, write: Write): Promise<void> | undefined {
    const batch = this.#pending.get(owner);
    if (batch !== undefined) {
      addTo(batch, row);
      return undefined;
    }
    const opened = new Map<string, UsageRow>();
    addTo(opened, row);
    this.#pending.set(owner, opened);
    return new Promise<void>((resolve) => setTimeout(resolve, this.#delayMs)).then(() =>
      this.flush(owner, write),
    );
  }

  /** Writes `owner`'s open batch now (the usage route, before it reads); nothing when none is open. */
  async flush(owner: string, write: Write): Promise<void> {
    const batch = this.#pending.get(owner);
    if (batch === undefined) return;
    this.#pending.delete(owner);
    await write(owner, [...batch.values()]);
  }
}

function addTo(batch: Map<string, UsageRow>, row: UsageRow): void {
  const key = `${row.day} ${row.routeClass}`;
  const sum = batch.get(key);
  if (sum === undefined) {
    batch.set(key, { ...row });
    return;
  }
  sum.requests += row.requests;
  sum.limited += row.limited;
  sum.bytesIn += row.bytesIn;
  sum.bytesOut += row.bytesOut;
  sum.credentialsProvisioned += row.credentialsProvisioned;
}
