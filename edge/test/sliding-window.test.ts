import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SlidingWindowLimiter } from "../src/platform/sliding-window.ts";

/**
 * The reference: keep every allowed time; a request at `t` passes when fewer than `limit` allowed
 * times lie in (t - window, t]. Quadratic and obviously right.
 */
function referenceDecisions(
  steps: ReadonlyArray<{ key: string; gap: number; limit: number }>,
  windowMs: number,
): { allowed: boolean; remaining: number; retryAfterMs: number }[] {
  const allowed = new Map<string, number[]>();
  let now = 0;
  return steps.map(({ key, gap, limit }) => {
    now += gap;
    const times = allowed.get(key) ?? [];
    allowed.set(key, times);
    const inWindow = times.filter((t) => t > now - windowMs);
    if (inWindow.length >= limit) {
      // The request could pass once all but limit - 1 of them have left the window.
      const blocking = inWindow[inWindow.length - limit] as number;
      return { allowed: false, remaining: 0, retryAfterMs: blocking + windowMs - now };
    }
    times.push(now);
    return { allowed: true, remaining: limit - inWindow.length - 1, retryAfterMs: 0 };
  });
}

const step = fc.record({
  key: fc.constantFrom("credentials", "sessions", "other"),
  // Bursts (0 ms apart), steady traffic and long pauses, so windows both fill and drain.
  gap: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 400 })),
  limit: fc.integer({ min: 1, max: 8 }),
});

describe("SlidingWindowLimiter", () => {
  it("decides exactly as the reference model, for any sequence of keys, gaps and limits", () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 300 }), fc.integer({ min: 1, max: 500 }), (steps, windowMs) => {
        const limiter = new SlidingWindowLimiter();
        let now = 0;
        const actual = steps.map(({ key, gap, limit }) => {
          now += gap;
          const { allowed, remaining, retryAfterMs } = limiter.take(key, limit, windowMs, now);
          return { allowed, remaining, retryAfterMs };
        });
        expect(actual).toEqual(referenceDecisions(steps, windowMs));
      }),
      { numRuns: 300 },
    );
  });

  it("never lets more than the limit through in any window", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 500 }),
        fc.integer({ min: 1, max: 20 }),
        (gaps, limit) => {
          const limiter = new SlidingWindowLimiter();
          const passed: number[] = [];
          let now = 0;
          for (const gap of gaps) {
            now += gap;
            if (limiter.take("k", limit, 100, now).allowed) passed.push(now);
          }
          for (const start of passed) {
            expect(passed.filter((t) => t >= start && t < start + 100).length).toBeLessThanOrEqual(limit);
          }
        },
      ),
    );
  });

  it("reports the reset as the time until the oldest counted request leaves the window", () => {
    const limiter = new SlidingWindowLimiter();
    expect(limiter.take("k", 3, 1000, 0)).toEqual({
      allowed: true,
      limit: 3,
      remaining: 2,
      resetMs: 1000,
      retryAfterMs: 0,
    });
    limiter.take("k", 3, 1000, 400);
    limiter.take("k", 3, 1000, 700);
    expect(limiter.take("k", 3, 1000, 900)).toMatchObject({
      allowed: false,
      resetMs: 100,
      retryAfterMs: 100,
    });
    expect(limiter.take("k", 3, 1000, 1000)).toMatchObject({ allowed: true, remaining: 0, resetMs: 400 });
  });

  it("treats a clock that steps back as standing still", () => {
    const limiter = new SlidingWindowLimiter();
    limiter.take("k", 2, 1000, 5000);
    expect(limiter.take("k", 2, 1000, 1000)).toMatchObject({ allowed: true, remaining: 0, resetMs: 1000 });
    expect(limiter.take("k", 2, 1000, 5999).allowed).toBe(false);
    expect(limiter.take("k", 2, 1000, 6000).allowed).toBe(true);
  });

  it("forgets keys whose window emptied, and says when the next one expires", () => {
    const limiter = new SlidingWindowLimiter();
    limiter.take("a", 5, 1000, 0);
    limiter.take("b", 5, 1000, 500);
    expect(limiter.expireAll(1000, 999)).toBe(1000);
    expect(limiter.expireAll(1000, 1000)).toBe(1500);
    expect(limiter.expireAll(1000, 1500)).toBeUndefined();
  });
});
