import { backendOver, type Runner, type SessionBackend } from "./backend.ts";
import { OwnerSessions } from "./owner-sessions.ts";
import { type Snapshot, SnapshotSchema } from "./schemas.ts";
import { SnapshotRepo } from "./snapshot-repo.ts";

/** KV key of an owner's snapshot; its metadata says when it was written (the backup job reads it). */
export const snapshotKey = (owner: string) => `sessions/${owner}`;
export const SNAPSHOT_PREFIX = "sessions/";

export interface SnapshotMetadata {
  updatedAt: number;
}

export async function readSnapshot(kv: KVNamespace, owner: string): Promise<Snapshot | undefined> {
  const stored = await kv.get(snapshotKey(owner), "json");
  if (stored === null) return undefined;
  const parsed = SnapshotSchema.safeParse(stored);
  // Only this code writes the key; an unreadable value means a bug, not a client mistake.
  if (!parsed.success) throw new Error("stored sessions snapshot does not match the snapshot schema");
  return parsed.data;
}

export async function writeSnapshot(kv: KVNamespace, snapshot: Snapshot, now: number): Promise<void> {
  const metadata: SnapshotMetadata = { updatedAt: now };
  await kv.put(snapshotKey(snapshot.owner), JSON.stringify(snapshot), { metadata });
}

/**
 * The store behind `ENABLE_DURABLE_OBJECTS=false`, and the read path when the object cannot be
 * reached: the owner's whole state is one KV value, loaded, changed by the same rules and written
 * back. What it gives up: KV is eventually consistent (a read may not see a write made elsewhere
 * for up to a minute), two concurrent writers can overwrite each other, and there are no events.
 */
export function kvSessionStore(
  kv: KVNamespace,
  timeoutSeconds: number,
  now: () => number = Date.now,
): SessionBackend {
  const open = async (owner: string) => openSnapshot(await readSnapshot(kv, owner), timeoutSeconds, now);
  const read: Runner = async (owner, work) => work(await open(owner));
  const write: Runner = async (owner, work) => {
    const sessions = await open(owner);
    const result = work(sessions);
    if (result.ok) await writeSnapshot(kv, sessions.exportSnapshot(owner), now());
    return result;
  };
  return backendOver(read, write);
}

/** Reads from one snapshot already loaded: the fallback when the owner's object cannot be reached. */
export function snapshotReader(
  snapshot: Snapshot,
  timeoutSeconds: number,
  now: () => number = Date.now,
): SessionBackend {
  const read: Runner = async (_owner, work) => work(openSnapshot(snapshot, timeoutSeconds, now));
  const write: Runner = async () => {
    throw new Error("a snapshot fallback serves reads only");
  };
  return backendOver(read, write);
}

function openSnapshot(
  snapshot: Snapshot | undefined,
  timeoutSeconds: number,
  now: () => number,
): OwnerSessions {
  const sessions = new OwnerSessions(SnapshotRepo.from(snapshot), { timeoutSeconds, now });
  // No alarm outside the object: expired sessions are dropped whenever a snapshot is opened.
  sessions.expire();
  sessions.takeEvents();
  return sessions;
}
