import type { EdgeBindings } from "../env.ts";
import { readSnapshot, SNAPSHOT_PREFIX, type SnapshotMetadata } from "./kv-store.ts";
import type { Snapshot } from "./schemas.ts";
import { durableBackend, durableObjectsFor } from "./store.ts";

/** KV key holding when the last complete backup run started (epoch ms). */
export const LAST_BACKUP_KEY = "backups/sessions-last-run";

export const backupKey = (owner: string, now: number) =>
  `sessions/${owner}/${new Date(now).toISOString().slice(0, 10)}.json`;

/**
 * Cron: copies each owner changed since the last run to R2 as `sessions/{owner}/{date}.json`.
 * Owners are found through their KV snapshots, whose metadata says when they last changed; the
 * copy itself comes from the object (fresher than KV) unless Durable Objects are switched off.
 * A failed owner keeps the last-run mark where it was, so the next run tries again.
 */
export async function backupSessions(
  env: EdgeBindings,
  now = Date.now(),
): Promise<{ backedUp: string[]; failed: number }> {
  const since = Number((await env.SESSIONS_KV.get(LAST_BACKUP_KEY)) ?? 0);
  const backedUp: string[] = [];
  let failed = 0;
  let cursor: string | undefined;
  do {
    const page = await env.SESSIONS_KV.list<SnapshotMetadata>({
      prefix: SNAPSHOT_PREFIX,
      ...(cursor ? { cursor } : {}),
    });
    for (const key of page.keys) {
      if ((key.metadata?.updatedAt ?? now) <= since) continue;
      const owner = key.name.slice(SNAPSHOT_PREFIX.length);
      try {
        const snapshot = await currentSnapshot(env, owner, await durableObjectsFor(env, owner));
        if (!snapshot) continue;
        await env.SESSION_BACKUPS.put(backupKey(owner, now), JSON.stringify(snapshot), {
          httpMetadata: { contentType: "application/json" },
        });
        backedUp.push(owner);
      } catch (error) {
        failed++;
        console.error(
          JSON.stringify({
            level: "error",
            msg: "session backup failed",
            owner,
            error: error instanceof Error ? error.name : "unknown",
          }),
        );
      }
    }
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  if (failed === 0) await env.SESSIONS_KV.put(LAST_BACKUP_KEY, String(now));
  return { backedUp, failed };
}

async function currentSnapshot(
  env: EdgeBindings,
  owner: string,
  durableObjects: boolean,
): Promise<Snapshot | undefined> {
  if (!durableObjects) return readSnapshot(env.SESSIONS_KV, owner);
  const result = await durableBackend(env, owner).exportSnapshot(owner);
  return result.ok ? result.value : undefined;
}
