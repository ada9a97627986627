import { createHmac, timingSafeEqual } from "node:crypto";
import type { AuditEntry } from "@chittyconnect/contract";

/**
 * The parts of an entry the caller supplies; the log adds seq, at, instance, prevHash and hash.
 * Extra members (e.g. an idempotency key) are written and covered by the line's MAC as they are.
 */
export type AuditRecord = Omit<AuditEntry, "seq" | "at" | "prevHash" | "hash"> & Record<string, unknown>;

/** An entry as written: the contract's shape plus the chain's origin instance. */
export type StoredEntry = AuditEntry & { instance: string };

/**
 * Every line ends with this member, written last so the MAC can cover the line's exact bytes: the
 * signed text is the line with `,"hash":"<64 hex>"` cut out. Hashing bytes rather than a parsed and
 * re-serialised shape means an inserted member, a reordering or a changed escape all break the MAC.
 */
const HASH_SUFFIX = /,"hash":"([0-9a-f]{64})"\}$/;
const HASH_SUFFIX_LENGTH = ',"hash":"'.length + 64 + '"}'.length;

/** HMAC-SHA256 (hex) of the chain key over a line's signed text. */
export function chainMac(key: string, text: string): string {
  return createHmac("sha256", key).update(text).digest("hex");
}

/**
 * The prevHash of a chain's first line: keyed and bound to the instance, so a chain cannot be
 * started afresh by someone without the key, nor one replica's chain passed off as another's.
 */
export function genesisHash(key: string, instance: string): string {
  return chainMac(key, `chittyconnect-audit-genesis\n${instance}`);
}

/** Serialises one entry as its line (without the newline). */
export function sealEntry(key: string, unsigned: Omit<StoredEntry, "hash">): { line: string; hash: string } {
  const text = JSON.stringify(unsigned);
  const hash = chainMac(key, text);
  return { line: `${text.slice(0, -1)},"hash":"${hash}"}`, hash };
}

export type OpenedLine = { ok: true; entry: StoredEntry } | { ok: false; reason: string };

/**
 * Parses a line and checks its MAC. Says nothing about its place in the chain: see ChainVerifier.
 * Shape checks are the minimum the chain needs (seq, prevHash, instance, owner); the MAC vouches
 * for the rest, which only the key holder could have written.
 */
export function openLine(key: string, line: string): OpenedLine {
  const match = HASH_SUFFIX.exec(line);
  if (!match) return { ok: false, reason: "not an audit line (no trailing hash member; torn or edited)" };
  const expected = Buffer.from(chainMac(key, `${line.slice(0, -HASH_SUFFIX_LENGTH)}}`), "hex");
  if (!timingSafeEqual(expected, Buffer.from(match[1]!, "hex"))) {
    return { ok: false, reason: "MAC does not match the line (altered, or written with another key)" };
  }
  let data: unknown;
  try {
    data = JSON.parse(line);
  } catch {
    return { ok: false, reason: "not valid JSON" };
  }
  const entry = data as Partial<StoredEntry> | null;
  if (
    typeof entry !== "object" ||
    entry === null ||
    !Number.isSafeInteger(entry.seq) ||
    typeof entry.prevHash !== "string" ||
    typeof entry.instance !== "string" ||
    typeof entry.owner !== "string"
  ) {
    return { ok: false, reason: "not an audit entry (seq, prevHash, instance or owner missing)" };
  }
  return { ok: true, entry: entry as StoredEntry };
}

/** What audit lines carry instead of a secret: lets an operator match a known value, never recover one. */
export function valueHmac(key: string, value: string): string {
  return createHmac("sha256", key).update(value).digest("hex");
}
