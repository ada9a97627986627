/** Counts what a lookup did; the broker feeds it into metrics. */
export type LookupResult = "hit" | "miss" | "coalesced";

/**
 * A short-lived title -> id cache with single-flight: concurrent look-ups of one key share one
 * call. Only successes are cached; a failure reaches every waiter and is forgotten.
 */
export class TitleCache {
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, { id: string; expires: number }>();
  readonly #inFlight = new Map<string, Promise<string>>();

  constructor(options: { ttlSeconds: number; maxEntries?: number; now?: () => number }) {
    this.#ttlMs = options.ttlSeconds * 1000;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  async get(
    key: string,
    load: () => Promise<string>,
    observe: (result: LookupResult) => void,
  ): Promise<string> {
    const cached = this.#entries.get(key);
    if (cached && cached.expires > this.#now()) {
      observe("hit");
      return cached.id;
    }
    if (cached) this.#entries.delete(key);
    const pending = this.#inFlight.get(key);
    if (pending) {
      observe("coalesced");
      return pending;
    }
    observe("miss");
    const loading = load().finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, loading);
    const id = await loading;
    if (this.#ttlMs > 0) {
      // Oldest first: Map keeps insertion order, so the first key is the one to evict.
      if (this.#entries.size >= this.#maxEntries) {
        const oldest = this.#entries.keys().next();
        if (!oldest.done) this.#entries.delete(oldest.value);
      }
      this.#entries.set(key, { id, expires: this.#now() + this.#ttlMs });
    }
    return id;
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }
}
