/** How long to wait between attempts: capped exponential backoff with full jitter, or the server's word. */
export interface RetryPolicy {
  /** Retries after the first attempt (0 = never retry). */
  retries: number;
  /** The first backoff's ceiling. */
  baseMs: number;
  /** No backoff is longer than this. */
  capMs: number;
  /** A `Retry-After` longer than this is not waited for: the error is returned instead. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  retries: 2,
  baseMs: 200,
  capMs: 5_000,
  maxRetryAfterMs: 30_000,
};

/**
 * Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): uniform in
 * [0, min(cap, base·2^attempt)], so many clients retrying together spread out. `attempt` counts from 0.
 */
export function backoffDelay(
  attempt: number,
  policy: Pick<RetryPolicy, "baseMs" | "capMs">,
  random = Math.random,
): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

const DELTA_SECONDS = /^\s*(\d{1,10})\s*$/;
/** RFC 9110 §5.6.7: IMF-fixdate, and the obsolete RFC 850 and asctime forms a recipient must accept. */
const HTTP_DATE =
  /^\s*(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT|[A-Z][a-z]+day, \d{2}-[A-Z][a-z]{2}-\d{2} \d{2}:\d{2}:\d{2} GMT|[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4})\s*$/;

/**
 * `Retry-After` (RFC 9110 §10.2.3) as milliseconds from `now`: delay-seconds or an HTTP-date (a date in
 * the past is 0). `undefined` when the header is absent or not one of those forms.
 */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const seconds = DELTA_SECONDS.exec(value);
  if (seconds) return Number(seconds[1]) * 1000;
  if (!HTTP_DATE.test(value)) return undefined;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * The wait before the next attempt after `attempt` (0-based) failed, or `undefined` when not to retry:
 * retries used up, or the server asks for a longer wait than the policy accepts.
 */
export function nextDelay(
  attempt: number,
  retryAfter: string | null | undefined,
  policy: RetryPolicy,
  now = Date.now(),
  random = Math.random,
): number | undefined {
  if (attempt >= policy.retries) return undefined;
  const asked = parseRetryAfter(retryAfter, now);
  if (asked !== undefined) return asked > policy.maxRetryAfterMs ? undefined : asked;
  return backoffDelay(attempt, policy, random);
}
