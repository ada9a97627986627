import { z } from "zod";
import type { EdgeBindings } from "../env.ts";

/** An index job older than this means the consumer is not keeping up (or not running). */
const STALE_INDEX_MS = 15 * 60 * 1000;

export const DocumentChecksSchema = z.object({
  r2: z.object({ ok: z.boolean(), latencyMs: z.number() }),
  queue: z.object({
    ok: z.boolean(),
    latencyMs: z.number(),
    pending: z.number(),
    failed: z.number(),
    oldestPendingSeconds: z.number().nullable(),
  }),
});
export type DocumentChecks = z.infer<typeof DocumentChecksSchema>;

type Timed = <T>(work: () => Promise<T>) => Promise<{ value?: T; latencyMs: number }>;

/**
 * R2 answers a HEAD for a key that never exists. A queue cannot be pinged without sending work, so
 * its health is the indexing backlog D1 records: jobs waiting far too long mean a stuck consumer.
 */
export async function documentChecks(env: EdgeBindings, timed: Timed): Promise<DocumentChecks> {
  const [r2, backlog] = await Promise.all([
    timed(async () => {
      await env.DOCUMENTS.head("status/probe");
      return true;
    }),
    timed(() =>
      env.DB.prepare(
        `SELECT sum(index_status = 'pending') AS pending, sum(index_status = 'index_failed') AS failed,
                min(CASE WHEN index_status = 'pending' THEN updated_at END) AS oldest
           FROM documents WHERE status = 'active'`,
      ).first<{ pending: number | null; failed: number | null; oldest: string | null }>(),
    ),
  ]);
  const oldestMs = backlog.value?.oldest ? Date.now() - Date.parse(backlog.value.oldest) : null;
  return {
    r2: { ok: r2.value === true, latencyMs: r2.latencyMs },
    queue: {
      ok:
        backlog.value !== undefined &&
        typeof env.DOCUMENT_INDEX?.send === "function" &&
        (oldestMs ?? 0) < STALE_INDEX_MS,
      latencyMs: backlog.latencyMs,
      pending: backlog.value?.pending ?? 0,
      failed: backlog.value?.failed ?? 0,
      oldestPendingSeconds: oldestMs === null ? null : Math.round(oldestMs / 1000),
    },
  };
}
