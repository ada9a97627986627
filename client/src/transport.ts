import { ChittyNetworkError } from "./problem.ts";
import { nextDelay, type RetryPolicy } from "./retry.ts";

const IDEMPOTENT_METHODS = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);

export interface TransportOptions {
  /** Each attempt's limit, from sending to the end of the body. */
  timeoutMs: number;
  retry: RetryPolicy;
  fetch: typeof globalThis.fetch;
  /** Called before each wait (for a progress line); never given the request or response. */
  onRetry?: (info: { attempt: number; delayMs: number; status?: number }) => void;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** The system error code under Node's "fetch failed" (ECONNREFUSED, ENOTFOUND…), nothing else of it. */
function reasonOf(error: unknown): string | undefined {
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  return typeof cause?.code === "string" ? cause.code : undefined;
}

/**
 * A `fetch` that gives each attempt `timeoutMs` and retries what is safe to retry: 503 (the server did
 * nothing and says so), and 502/504 and network failures only for idempotent requests (GET, PUT,
 * DELETE…, or any request carrying an `Idempotency-Key`). Waits follow `Retry-After`, else capped
 * exponential backoff with jitter.
 */
export function resilientFetch(options: TransportOptions): typeof globalThis.fetch {
  return async (input, init) => {
    const request = new Request(input, init);
    const idempotent = IDEMPOTENT_METHODS.has(request.method) || request.headers.has("idempotency-key");
    const where = new URL(request.url).origin;
    for (let attempt = 0; ; attempt++) {
      const timeout = AbortSignal.timeout(options.timeoutMs);
      let response: Response;
      try {
        response = await options.fetch(
          new Request(request.clone(), { signal: AbortSignal.any([request.signal, timeout]) }),
        );
      } catch (error) {
        if (request.signal.aborted) throw error;
        const delay = idempotent ? nextDelay(attempt, undefined, options.retry) : undefined;
        if (delay === undefined) {
          throw new ChittyNetworkError(timeout.aborted ? "timeout" : "unreachable", where, reasonOf(error));
        }
        options.onRetry?.({ attempt, delayMs: delay });
        await sleep(delay, request.signal);
        continue;
      }
      const retryable =
        response.status === 503 || (idempotent && (response.status === 502 || response.status === 504));
      const delay = retryable
        ? nextDelay(attempt, response.headers.get("retry-after"), options.retry)
        : undefined;
      if (delay === undefined) return response;
      await response.body?.cancel();
      options.onRetry?.({ attempt, delayMs: delay, status: response.status });
      await sleep(delay, request.signal);
    }
  };
}
