import { z } from "zod";

/**
 * `Idempotency-Key`: a client-chosen name for one logical provision or rotate, so a retry after a
 * lost answer (an edge 504, a dropped connection) gets the first result instead of a second
 * rotation. The key is opaque; the rules below keep it loggable-safe and cheap to store.
 *
 * Accepted: 8 to 128 characters of `A-Z a-z 0-9 - _ . : ~` (a UUID, a ULID, `deploy-2026-11-29:3`).
 * The Structured Field string form of draft-ietf-httpapi-idempotency-key-header (the same
 * characters inside double quotes) is accepted too and means the same key.
 */
export const IDEMPOTENCY_KEY_HEADER = "idempotency-key";
export const IDEMPOTENCY_KEY_MIN_LENGTH = 8;
export const IDEMPOTENCY_KEY_MAX_LENGTH = 128;

const KEY_PATTERN = /^[A-Za-z0-9._:~-]{8,128}$/;

export const IdempotencyKeySchema = z
  .string()
  .regex(KEY_PATTERN, "must be 8 to 128 characters of A-Z a-z 0-9 - _ . : ~");

export type IdempotencyKeyParse =
  | { ok: true; key: string | undefined }
  | { ok: false; reason: "length" | "charset" };

/** Parses the header's value (null when absent). Never throws; the reason is for the problem detail. */
export function parseIdempotencyKey(header: string | null | undefined): IdempotencyKeyParse {
  if (header === null || header === undefined) return { ok: true, key: undefined };
  const quoted = header.length >= 2 && header.startsWith('"') && header.endsWith('"');
  const key = quoted ? header.slice(1, -1) : header;
  if (key.length < IDEMPOTENCY_KEY_MIN_LENGTH || key.length > IDEMPOTENCY_KEY_MAX_LENGTH) {
    return { ok: false, reason: "length" };
  }
  return KEY_PATTERN.test(key) ? { ok: true, key } : { ok: false, reason: "charset" };
}
