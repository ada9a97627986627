import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { backoffDelay, DEFAULT_RETRY_POLICY, nextDelay, parseRetryAfter } from "../src/retry.ts";

describe("parseRetryAfter", () => {
  it("reads delay-seconds exactly", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 9_999_999_999 }), fc.constantFrom("", " "), (seconds, pad) => {
        expect(parseRetryAfter(`${pad}${seconds}${pad}`)).toBe(seconds * 1000);
      }),
    );
  });

  it("reads an IMF-fixdate as the time until it, and a past date as 0", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(1990, 0, 1), max: Date.UTC(2200, 0, 1) }),
        fc.integer({ min: Date.UTC(1990, 0, 1), max: Date.UTC(2200, 0, 1) }),
        (atMs, now) => {
          const at = Math.floor(atMs / 1000) * 1000;
          expect(parseRetryAfter(new Date(at).toUTCString(), now)).toBe(Math.max(0, at - now));
        },
      ),
    );
  });

  it("reads the obsolete RFC 850 and asctime forms", () => {
    const now = Date.UTC(1994, 10, 6, 8, 49, 0);
    expect(parseRetryAfter("Sunday, 06-Nov-94 08:49:37 GMT", now)).toBe(37_000);
    expect(parseRetryAfter("Sun Nov  6 08:49:37 1994", now)).toBe(37_000);
  });

  it("is undefined for anything else, never NaN or negative", () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        const parsed = parseRetryAfter(text, 0);
        if (parsed !== undefined) {
          expect(Number.isFinite(parsed)).toBe(true);
          expect(parsed).toBeGreaterThanOrEqual(0);
        }
      }),
    );
    for (const text of ["-1", "1.5", "soon", "", "1e3", "Mon, 32 Foo 2020 99:99:99 GMT"]) {
      expect(parseRetryAfter(text)).toBeUndefined();
    }
    expect(parseRetryAfter(null)).toBeUndefined();
  });
});

describe("backoff", () => {
  it("stays within [0, min(cap, base·2^attempt)) and reaches the ceiling's range", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1000 }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 100_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, baseMs, capMs, random) => {
          const delay = backoffDelay(attempt, { baseMs, capMs }, () => random);
          const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThan(Math.max(1, ceiling));
          expect(delay).toBe(Math.floor(random * ceiling));
        },
      ),
    );
  });

  it("nextDelay: Retry-After wins, too long a wait or no retries left means stop", () => {
    const policy = { ...DEFAULT_RETRY_POLICY, retries: 3 };
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 }), fc.integer({ min: 0, max: 100 }), (attempt, seconds) => {
        const delay = nextDelay(attempt, String(seconds), policy, 0, () => 0.5);
        if (attempt >= policy.retries || seconds * 1000 > policy.maxRetryAfterMs)
          expect(delay).toBeUndefined();
        else expect(delay).toBe(seconds * 1000);
      }),
    );
    expect(nextDelay(0, null, policy, 0, () => 0.5)).toBe(100);
  });
});
