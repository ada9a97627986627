/**
 * Every size and count the sessions API accepts. Sizes are UTF-8 bytes of the stored JSON or text.
 * The owner-wide byte budget keeps one owner's export (and its KV snapshot, max 25 MiB) bounded.
 */
export const LIMITS = {
  sessionsPerOwner: 1000,
  messagesPerSession: 2000,
  contextKeysPerOwner: 500,
  decisionsPerOwner: 10_000,
  metadataBytes: 4 * 1024,
  messageBytes: 16 * 1024,
  contextValueBytes: 8 * 1024,
  reasoningBytes: 4 * 1024,
  ownerBytes: 8 * 1024 * 1024,
  /** Events kept for `?since=` replay; a client further behind gets a `resync` event. */
  eventBacklog: 500,
  pageDefault: 50,
  pageMax: 200,
  /** Owner sockets at once; fan-out cost grows with each. */
  socketsPerOwner: 2000,
  /** An import is an export: the byte budget plus room for the JSON around it. */
  importBodyBytes: 12 * 1024 * 1024,
} as const;

const encoder = new TextEncoder();

export function byteLength(text: string): number {
  return encoder.encode(text).byteLength;
}
