import {
  IDEMPOTENCY_KEY_MAX_LENGTH,
  IDEMPOTENCY_KEY_MIN_LENGTH,
  ProblemError,
  parseIdempotencyKey,
} from "@chittyconnect/contract";

/**
 * The caller's `Idempotency-Key` header, checked before the body is read; undefined when absent.
 * A malformed key is refused here, so the origin only ever sees valid ones.
 */
export function idempotencyKeyFrom(header: string | undefined): string | undefined {
  const parsed = parseIdempotencyKey(header);
  if (parsed.ok) return parsed.key;
  throw new ProblemError({
    status: 400,
    code: "invalid_idempotency_key",
    title: "Invalid Idempotency-Key",
    detail:
      parsed.reason === "length"
        ? `The Idempotency-Key header must be ${IDEMPOTENCY_KEY_MIN_LENGTH} to ${IDEMPOTENCY_KEY_MAX_LENGTH} characters long.`
        : "The Idempotency-Key header may hold only A-Z a-z 0-9 - _ . : ~ (optionally in double quotes).",
  });
}
