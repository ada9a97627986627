import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { RouteClass } from "../src/platform/route-class.ts";
import { UsageBatcher } from "../src/usage/batch.ts";
import type { UsageRow } from "../src/usage/ledger.ts";

const row = fc.record({
  day: fc.constantFrom("2026-11-28", "2026-11-29"),
  routeClass: fc.constantFrom<RouteClass>("credentials", "sessions", "documents"),
  requests: fc.constant(1),
  limited: fc.integer({ min: 0, max: 1 }),
  bytesIn: fc.integer({ min: 0, max: 1_000_000 }),
  bytesOut: fc.integer({ min: 0, max: 1_000_000 }),
  credentialsProvisioned: fc.integer({ min: 0, max: 1 }),
});
// Each step adds a row for one of three owners, or flushes one owner's batch early (the usage route).
const step = fc.oneof(
  fc.record({ add: row, owner: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ flush: fc.integer({ min: 0, max: 2 }) }),
);

const key = (owner: string, r: UsageRow) => `${owner} ${r.day} ${r.routeClass}`;

function total(rows: Iterable<[string, UsageRow]>): Map<string, UsageRow> {
  const sums = new Map<string, UsageRow>();
  for (const [owner, r] of rows) {
    const k = key(owner, r);
    const sum = sums.get(k);
    if (sum === undefined) sums.set(k, { ...r });
    else {
      sum.requests += r.requests;
      sum.limited += r.limited;
      sum.bytesIn += r.bytesIn;
      sum.bytesOut += r.bytesOut;
      sum.credentialsProvisioned += r.credentialsProvisioned;
    }
  }
  return sums;
}

describe("UsageBatcher", () => {
  it("writes exactly what was added, summed per owner, day and route class, one write per batch", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 60 }), async (steps) => {
        const batcher = new UsageBatcher(1);
        const written: Array<[string, UsageRow]> = [];
        let writes = 0;
        const write = async (owner: string, rows: UsageRow[]) => {
          writes++;
          // One row per day and class in a write: the batch summed them.
          expect(new Set(rows.map((r) => `${r.day} ${r.routeClass}`)).size).toBe(rows.length);
          for (const r of rows) written.push([owner, r]);
        };
        const added: Array<[string, UsageRow]> = [];
        const owned: Promise<void>[] = [];
        const open = new Set<string>();
        for (const s of steps) {
          if ("add" in s) {
            const owner = `o${s.owner}`;
            added.push([owner, s.add]);
            const promise = batcher.add(owner, s.add, write);
            // Only the entry that opens an owner's batch gets the write to wait for.
            expect(promise !== undefined).toBe(!open.has(owner));
            if (promise) owned.push(promise);
            open.add(owner);
          } else {
            const owner = `o${s.flush}`;
            await batcher.flush(owner, write);
            open.delete(owner);
          }
        }
        await Promise.all(owned);
        expect(total(written)).toEqual(total(added));
        expect(writes).toBeLessThanOrEqual(owned.length);
      }),
      { numRuns: 200 },
    );
  });

  it("closes a batch when it starts writing: an entry added during the write opens the next one", async () => {
    const batcher = new UsageBatcher(1);
    const calls: number[] = [];
    let release: () => void = () => {};
    const slow = (_owner: string, rows: UsageRow[]) => {
      calls.push(rows.reduce((sum, r) => sum + r.requests, 0));
      return calls.length === 1 ? new Promise<void>((resolve) => (release = resolve)) : Promise.resolve();
    };
    const entry: UsageRow = {
      day: "2026-11-29",
      routeClass: "sessions",
      requests: 1,
      limited: 0,
      bytesIn: 0,
      bytesOut: 10,
      credentialsProvisioned: 0,
    };
    const first = batcher.add("o", entry, slow);
    batcher.add("o", entry, slow);
    await new Promise((r) => setTimeout(r, 20));
    expect(calls).toEqual([2]);
    const next = batcher.add("o", entry, slow);
    expect(next).toBeDefined();
    release();
    await Promise.all([first, next]);
    expect(calls).toEqual([2, 1]);
  });
});
