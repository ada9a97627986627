/** An RFC 9457 problem from the edge (or a hop before it), as a typed error. */
export class ChittyProblemError extends Error {
  override readonly name = "ChittyProblemError";
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly detail: string | undefined;
  readonly requestId: string | undefined;
  /** Per-member validation messages (`validation_failed`). */
  readonly errors: readonly { pointer?: string; path?: string; message: string }[];
  /** The server's `Retry-After`, as sent. */
  readonly retryAfter: string | undefined;

  constructor(problem: {
    status: number;
    code: string;
    title: string;
    detail?: string | undefined;
    requestId?: string | undefined;
    errors?: readonly { pointer?: string; path?: string; message: string }[];
    retryAfter?: string | undefined;
  }) {
    super(problem.detail ? `${problem.title}: ${problem.detail}` : problem.title);
    this.status = problem.status;
    this.code = problem.code;
    this.title = problem.title;
    this.detail = problem.detail;
    this.requestId = problem.requestId;
    this.errors = problem.errors ?? [];
    this.retryAfter = problem.retryAfter;
  }
}

/** The edge could not be reached or did not answer in time: nothing is known about the request's fate. */
export class ChittyNetworkError extends Error {
  override readonly name = "ChittyNetworkError";
  readonly kind: "timeout" | "unreachable";
  readonly url: string;
  /** The system error code (`ECONNREFUSED`, …) when there is one; never the library's error object. */
  readonly reason: string | undefined;

  constructor(kind: "timeout" | "unreachable", url: string, reason: string | undefined) {
    super(
      kind === "timeout"
        ? `no answer from ${url} in time`
        : `cannot reach ${url}${reason ? ` (${reason})` : ""}`,
    );
    this.kind = kind;
    this.url = url;
    this.reason = reason;
  }
}

const str = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);

/**
 * A problem from a failed response's parsed body (`body` as openapi-fetch hands it over: parsed JSON
 * when it was JSON, else the text). Anything not a problem (an HTML error page of a proxy) becomes
 * `http_<status>` with the status text, never the page itself.
 */
export function problemFrom(response: Response, body: unknown): ChittyProblemError {
  const object = typeof body === "object" && body !== null ? (body as Record<string, unknown>) : {};
  const errors = Array.isArray(object.errors)
    ? object.errors.flatMap((e: unknown) => {
        const entry = typeof e === "object" && e !== null ? (e as Record<string, unknown>) : {};
        const message = str(entry.message);
        if (!message) return [];
        return [
          {
            message,
            ...(str(entry.pointer) ? { pointer: str(entry.pointer) } : {}),
            ...(str(entry.path) ? { path: str(entry.path) } : {}),
          },
        ];
      })
    : [];
  return new ChittyProblemError({
    status: response.status,
    code: str(object.code) ?? `http_${response.status}`,
    title: str(object.title) ?? (response.statusText || `HTTP ${response.status}`),
    detail: str(object.detail),
    requestId: str(object.requestId) ?? response.headers.get("x-request-id") ?? undefined,
    errors,
    retryAfter: response.headers.get("retry-after") ?? undefined,
  });
}
