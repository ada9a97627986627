import { createHash, createHmac } from "node:crypto";
import type { AuditEntry } from "@chittyconnect/contract";

export const GENESIS_HASH = "0".repeat(64);

/** The parts of an entry the caller supplies; the log adds seq, at, prevHash and hash. */
export type AuditRecord = Omit<AuditEntry, "seq" | "at" | "prevHash" | "hash">;

/** JSON with keys sorted at every level and undefined members dropped, so the hash is stable. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const members = Object.entries(value as Record<string, unknown>)
    .filter(([, member]) => member !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, member]) => `${JSON.stringify(key)}:${canonicalJson(member)}`);
  return `{${members.join(",")}}`;
}

/** SHA-256 (hex) over the canonical JSON of the entry without its own `hash`. */
export function entryHash(entry: Omit<AuditEntry, "hash"> & { hash?: string }): string {
  const { hash: _ignored, ...rest } = entry;
  return createHash("sha256").update(canonicalJson(rest)).digest("hex");
}

/** What audit lines carry instead of a secret: lets an operator match a known value, never recover one. */
export function valueHmac(key: string, value: string): string {
  return createHmac("sha256", key).update(value).digest("hex");
}
