import { ProblemError } from "@chittyconnect/contract";

/**
 * A refusal the store decided on. Plain data, because it crosses the Durable Object RPC boundary,
 * where thrown errors lose their class and fields.
 */
export interface SessionFailure {
  status: 400 | 404 | 409 | 412 | 413;
  code: string;
  detail: string;
}

export type Result<T> = { ok: true; value: T } | { ok: false; failure: SessionFailure };

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const fail = <T = never>(
  status: SessionFailure["status"],
  code: string,
  detail: string,
): Result<T> => ({
  ok: false,
  failure: { status, code, detail },
});

const TITLES: Record<SessionFailure["status"], string> = {
  400: "Bad request",
  404: "Not found",
  409: "Conflict",
  412: "Precondition failed",
  413: "Payload too large",
};

/** The value, or the failure as the problem+json the client sees. */
export function unwrap<T>(result: Result<T>): T {
  if (result.ok) return result.value;
  const { status, code, detail } = result.failure;
  throw new ProblemError({ status, code, title: TITLES[status], detail });
}
