import { type Anchor, type AnchorClient, AnchorConflictError, type ChainHead } from "./anchor.ts";

/** What the reporter needs of the log. */
export interface AnchoredLog {
  head(): ChainHead;
  contains(head: ChainHead): Promise<boolean>;
  onAppend(listener: (head: ChainHead) => void): () => void;
  /** Stops accepting appends: the chain no longer matches what the edge anchored. */
  refuse(reason: string): void;
}

export interface AnchorReporterEvents {
  reported(anchor: Anchor): void;
  failed(attempt: number, error: unknown): void;
  conflict(error: AnchorConflictError): void;
}

export interface AnchorReporterOptions {
  log: AnchoredLog;
  client: Pick<AnchorClient, "fetch" | "report">;
  /** Report at least this often, even when nothing was appended (the edge sees the origin alive). */
  intervalMs: number;
  /** …and whenever this many entries were appended since the last report. */
  everyEntries: number;
  /** Retries of one report: backoff doubles from retryBaseMs, at most maxAttempts tries. */
  retryBaseMs: number;
  maxAttempts: number;
  /** True when the anchor was already checked against the log (at start). */
  reconciled: boolean;
  events: AnchorReporterEvents;
}

/**
 * Keeps the edge's anchor close behind the log. Before its first report it checks that the log
 * contains the head the edge already holds (when that check could not run at start), because
 * reporting a cut log's head would just fail, and writing on would bury the cut.
 */
export class AnchorReporter {
  readonly #options: AnchorReporterOptions;
  readonly #unsubscribe: () => void;
  readonly #timer: NodeJS.Timeout;
  #reconciled: boolean;
  #reportedSeq = -1;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  #conflicted = false;
  #closing = false;
  #wake: (() => void) | undefined;

  constructor(options: AnchorReporterOptions) {
    this.#options = options;
    this.#reconciled = options.reconciled;
    this.#unsubscribe = options.log.onAppend((head) => {
      if (head.seq - this.#reportedSeq >= options.everyEntries) this.trigger();
    });
    this.#timer = setInterval(() => this.trigger(), options.intervalMs);
    this.#timer.unref();
    this.trigger();
  }

  /** Starts a report now, or right after the one in flight. Never throws. */
  trigger(): Promise<void> {
    if (this.#stopped || this.#conflicted) return this.#running ?? Promise.resolve();
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        await this.#reportWithRetries();
      } while (this.#again && !this.#stopped && !this.#conflicted);
      this.#running = undefined;
    })();
    return this.#running;
  }

  async #reportWithRetries(): Promise<void> {
    const { log, client, events, retryBaseMs, maxAttempts } = this.#options;
    for (let attempt = 1; !this.#stopped; attempt++) {
      try {
        if (!this.#reconciled) {
          const held = await client.fetch(log.head().instance);
          if (held && !(await log.contains(held))) {
            throw new AnchorConflictError(
              `the log does not contain the head the edge anchored (seq ${held.seq})`,
              held,
            );
          }
          this.#reconciled = true;
        }
        const head = log.head();
        const anchor = await client.report(head);
        this.#reportedSeq = head.seq;
        events.reported(anchor);
        return;
      } catch (error) {
        if (error instanceof AnchorConflictError) {
          this.#conflicted = true;
          log.refuse(error.message);
          events.conflict(error);
          return;
        }
        events.failed(attempt, error);
        // On shutdown there is no retry: a slow edge must not hold up the drain.
        if (attempt >= maxAttempts || this.#closing) return;
        await this.#sleep(retryBaseMs * 2 ** (attempt - 1));
      }
    }
  }

  /** A backoff pause that close() cuts short. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Stops the schedule after one last report of the final head. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#unsubscribe();
    this.#closing = true;
    this.#wake?.();
    await this.#running;
    if (!this.#conflicted && this.#reportedSeq !== this.#options.log.head().seq) {
      await this.trigger();
    }
    this.#stopped = true;
    await this.#running;
  }
}
