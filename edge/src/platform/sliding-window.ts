/**
 * An exact sliding-window log: a request is allowed when fewer than `limit` allowed requests happened
 * in the `windowMs` milliseconds before it, so no window of that length ever holds more than `limit`.
 * A token bucket (GCRA) would keep O(1) state but lets a full bucket's burst plus the refill through
 * in one window (up to almost twice the limit); callers read "100 a minute" as a hard cap, so the log
 * keeps one timestamp per allowed request instead (at most `limit` of them per class).
 */
export interface Decision {
  allowed: boolean;
  limit: number;
  /** Requests still allowed now, after this one was counted (0 when refused). */
  remaining: number;
  /** Milliseconds until the oldest counted request leaves the window (0 when none is counted). */
  resetMs: number;
  /** Milliseconds until a refused request could pass (0 when allowed). */
  retryAfterMs: number;
}

/** Timestamps in ascending order; `head` skips the expired ones without shifting the array each time. */
class Log {
  #times: number[] = [];
  #head = 0;

  get size(): number {
    return this.#times.length - this.#head;
  }

  oldest(): number | undefined {
    return this.#times[this.#head];
  }

  /** The timestamp that has to leave the window before `limit` is free again. */
  at(index: number): number | undefined {
    return this.#times[this.#head + index];
  }

  push(time: number): void {
    this.#times.push(time);
  }

  /** Forgets entries at or before `cutoff`. */
  expire(cutoff: number): void {
    while (this.#head < this.#times.length && (this.#times[this.#head] as number) <= cutoff) this.#head++;
    // Compact once the dead prefix is the larger half: amortised O(1) per entry.
    if (this.#head > 32 && this.#head * 2 > this.#times.length) {
      this.#times = this.#times.slice(this.#head);
      this.#head = 0;
    }
  }
}

export class SlidingWindowLimiter {
  readonly #logs = new Map<string, Log>();

  /**
   * Decides one request of class `key` at `now` (ms) and counts it when allowed. `now` must not go
   * backwards between calls for one key; a clock that does is treated as standing still.
   */
  take(key: string, limit: number, windowMs: number, now: number): Decision {
    const log = this.#log(key);
    const last = log.at(log.size - 1);
    const at = last !== undefined && now < last ? last : now;
    log.expire(at - windowMs);
    if (log.size >= limit) {
      // The entry whose departure leaves `limit - 1` counted (several if the limit was lowered).
      const blocking = log.at(log.size - limit) as number;
      const wait = blocking + windowMs - at;
      return { allowed: false, limit, remaining: 0, resetMs: wait, retryAfterMs: wait };
    }
    log.push(at);
    const oldest = log.oldest() as number;
    return {
      allowed: true,
      limit,
      remaining: limit - log.size,
      resetMs: oldest + windowMs - at,
      retryAfterMs: 0,
    };
  }

  /** Drops expired entries of every key; returns the keys' surviving timestamps' earliest expiry. */
  expireAll(windowMs: number, now: number): number | undefined {
    let next: number | undefined;
    for (const [key, log] of this.#logs) {
      log.expire(now - windowMs);
      const oldest = log.oldest();
      if (oldest === undefined) this.#logs.delete(key);
      else next = Math.min(next ?? Number.POSITIVE_INFINITY, oldest + windowMs);
    }
    return next;
  }

  /** Restores a counted request (from storage, in ascending time order per key). */
  restore(key: string, time: number): void {
    this.#log(key).push(time);
  }

  #log(key: string): Log {
    let log = this.#logs.get(key);
    if (log === undefined) {
      log = new Log();
      this.#logs.set(key, log);
    }
    return log;
  }
}
