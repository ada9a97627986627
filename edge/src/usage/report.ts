import { ProblemError } from "@chittyconnect/contract";
import type { z } from "zod";
import { documentConfig } from "../documents/config.ts";
import { QuotaLedger } from "../documents/quota.ts";
import type { EdgeBindings } from "../env.ts";
import { durableObjectsFor, sessionBackend } from "../sessions/store.ts";
import type { UsageRow } from "./ledger.ts";
import { utcDay } from "./ledger.ts";
import {
  DEFAULT_RANGE_DAYS,
  MAX_RANGE_DAYS,
  type UsageBucket,
  type UsageQuerySchema,
  type UsageReport,
  type UsageTotals,
} from "./schemas.ts";

const DAY_MS = 24 * 60 * 60 * 1000;
const dayMs = (day: string) => Date.parse(`${day}T00:00:00Z`);

export interface UsageRange {
  from: string;
  to: string;
}

function invalidRange(path: "from" | "to", message: string): ProblemError {
  return new ProblemError({
    status: 400,
    code: "validation_failed",
    title: "Invalid query",
    detail: "The request did not match the expected shape; see errors.",
    errors: [{ path, message }],
  });
}

/** The days a query asks for, defaults filled in: `to` today (UTC), `from` 29 days before `to`. */
export function usageRange(query: z.infer<typeof UsageQuerySchema>, now: number): UsageRange {
  const to = query.to ?? utcDay(now);
  const from = query.from ?? utcDay(dayMs(to) - (DEFAULT_RANGE_DAYS - 1) * DAY_MS);
  const days = (dayMs(to) - dayMs(from)) / DAY_MS + 1;
  if (days < 1) throw invalidRange("from", "from must not be after to");
  if (days > MAX_RANGE_DAYS) {
    throw invalidRange("to", `the range spans ${days} days; at most ${MAX_RANGE_DAYS} are allowed`);
  }
  return { from, to };
}

const zero = (): UsageTotals => ({
  requests: 0,
  limited: 0,
  bytesIn: 0,
  bytesOut: 0,
  credentialsProvisioned: 0,
  requestsByRouteClass: {},
});

function add(into: UsageTotals, row: UsageRow): void {
  into.requests += row.requests;
  into.limited += row.limited;
  into.bytesIn += row.bytesIn;
  into.bytesOut += row.bytesOut;
  into.credentialsProvisioned += row.credentialsProvisioned;
  into.requestsByRouteClass[row.routeClass] = (into.requestsByRouteClass[row.routeClass] ?? 0) + row.requests;
}

/** Rows (one per day and route class, ordered by day) folded into daily buckets and totals. */
export function buckets(rows: readonly UsageRow[]): { days: UsageBucket[]; totals: UsageTotals } {
  const days: UsageBucket[] = [];
  const totals = zero();
  for (const row of rows) {
    let bucket = days.at(-1);
    if (bucket?.day !== row.day) {
      bucket = { day: row.day, ...zero() };
      days.push(bucket);
    }
    add(bucket, row);
    add(totals, row);
  }
  return { days, totals };
}

/** Owners hold at most 1,000 sessions: five pages of 200. */
const SESSION_PAGE = 200;

async function activeSessions(env: EdgeBindings, owner: string): Promise<number | null> {
  let count = 0;
  let cursor: string | undefined;
  try {
    const backend = sessionBackend(env, owner, await durableObjectsFor(env, owner));
    do {
      const page = await backend.listSessions(owner, { limit: SESSION_PAGE, status: "active", cursor });
      if (!page.ok) return null;
      count += page.value.items.length;
      cursor = page.value.nextCursor;
    } while (cursor !== undefined);
  } catch {
    // An unreachable store is reported as unknown, not as zero sessions.
    return null;
  }
  return count;
}

/** What the ledger holds for `owner` in `range`, with the storage and sessions it holds now. */
export async function usageReport(
  env: EdgeBindings,
  owner: string,
  range: UsageRange,
  rows: readonly UsageRow[],
): Promise<UsageReport> {
  const [quota, sessionsActive] = await Promise.all([
    new QuotaLedger(env.DB, documentConfig(env)).usage(owner),
    activeSessions(env, owner),
  ]);
  return {
    owner,
    ...range,
    ...buckets(rows),
    current: { bytesStored: quota.bytesUsed, documents: quota.countUsed, sessionsActive },
  };
}
