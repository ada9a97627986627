import { type FuzzBody, type FuzzContext, type FuzzRequest, generateRequests } from "./requests.ts";

export interface FuzzOptions {
  /** The edge's base URL. */
  target: string;
  context: FuzzContext;
  /** Values that must never appear in an answer: the stack's keys and the tokens the fuzz sends. */
  secrets: readonly string[];
  requests: number;
  seed: number;
  concurrency: number;
  /** Per-request limit before it counts as timed out. */
  timeoutMs?: number;
  /** Called after each answered (or failed) request with the number done so far. */
  onProgress?: (done: number) => void;
  /** Stops the run early (Ctrl-C): requests in flight finish, the report counts what was sent. */
  signal?: AbortSignal;
}

/** One request that counted against the run, kept so a failure can be reproduced. */
export interface FuzzFinding {
  kind: "5xx" | "non_problem" | "stack_trace" | "secret_in_answer" | "dropped" | "timeout";
  method: string;
  path: string;
  status?: number;
  detail: string;
}

export interface FuzzReport {
  /** Requests sent (fewer than asked for when the run was stopped early). */
  requests: number;
  seed: number;
  byStatus: Record<string, number>;
  /** Server errors the gateway answered (5xx other than the runtime's own 501). */
  serverErrors: number;
  /** The runtime's plain 501 for a method it does not implement: not the gateway's answer. */
  runtime501: number;
  /** Error answers (4xx/5xx) without an application/problem+json body. */
  nonProblem: number;
  stackTraces: number;
  secretsInAnswers: number;
  /** Connections reset or closed under a request. */
  dropped: number;
  timeouts: number;
  /** Requests the fuzz client itself could not form (its own mistake, not the server's). */
  clientErrors: number;
  findings: FuzzFinding[];
}

/** The counts that must be zero for a run to pass. */
export function failures(report: FuzzReport): number {
  return (
    report.serverErrors +
    report.nonProblem +
    report.stackTraces +
    report.secretsInAnswers +
    report.dropped +
    report.timeouts
  );
}

const KNOWN_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);
/** undici's codes for a request it refused to send as given: the client's error. */
const CLIENT_ERROR_CODES = new Set([
  "UND_ERR_REQ_CONTENT_LENGTH_MISMATCH",
  "UND_ERR_INVALID_ARG",
  "UND_ERR_NOT_SUPPORTED",
  "ERR_INVALID_ARG_TYPE",
  "ERR_INVALID_ARG_VALUE",
  "ERR_INVALID_HTTP_TOKEN",
  "ERR_INVALID_CHAR",
]);
const STACK_TRACE = /\n\s+at \S|\bat [\w$.<>]+ \((?:file:|node:|\/)[^)]*:\d+:\d+\)|\.(?:ts|js|mjs):\d+:\d+/;
const MAX_FINDINGS = 50;

function bodyInit(body: FuzzBody): { body?: Uint8Array | ReadableStream<Uint8Array>; duplex?: "half" } {
  if (body.kind === "none") return {};
  if (body.kind === "bytes") return { body: body.data };
  let sent = 0;
  const chunk = new Uint8Array(body.chunkBytes).fill(0x7b);
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= body.bytes) {
        controller.close();
        return;
      }
      const size = Math.min(body.chunkBytes, body.bytes - sent);
      sent += size;
      controller.enqueue(size === chunk.byteLength ? chunk.slice() : chunk.slice(0, size));
    },
  });
  return { body: stream, duplex: "half" };
}

function codeOf(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && typeof current === "object" && current !== null; depth++) {
    const { code, cause } = current as { code?: unknown; cause?: unknown };
    if (typeof code === "string") return code;
    current = cause;
  }
  return undefined;
}

/** Sends one request and adds what it found to the report. */
async function send(options: FuzzOptions, request: FuzzRequest, report: FuzzReport): Promise<void> {
  const note = (finding: Omit<FuzzFinding, "method" | "path">) => {
    if (report.findings.length < MAX_FINDINGS) {
      report.findings.push({ method: request.method, path: request.path.slice(0, 120), ...finding });
    }
  };
  let prepared: Request;
  try {
    // Concatenated, not resolved: a path starting with "//" must stay a path, not become a host.
    prepared = new Request(`${options.target.replace(/\/+$/, "")}${request.path}`, {
      method: request.method,
      headers: request.headers,
      ...bodyInit(request.body),
    } as RequestInit);
  } catch {
    report.clientErrors++;
    return;
  }
  let response: Response;
  let text: string;
  try {
    response = await fetch(prepared, { signal: AbortSignal.timeout(options.timeoutMs ?? 60_000) });
    text = await response.text();
  } catch (error) {
    const code = codeOf(error);
    if ((error as { name?: string }).name === "TimeoutError") {
      report.timeouts++;
      note({ kind: "timeout", detail: "no answer in time" });
    } else if (code !== undefined && CLIENT_ERROR_CODES.has(code)) {
      report.clientErrors++;
    } else {
      report.dropped++;
      note({ kind: "dropped", detail: code ?? (error as Error).message });
    }
    return;
  }
  const status = response.status;
  report.byStatus[status] = (report.byStatus[status] ?? 0) + 1;
  const isProblem = (response.headers.get("content-type") ?? "").startsWith("application/problem+json");
  if (status === 501 && !isProblem && !KNOWN_METHODS.has(request.method)) {
    report.runtime501++;
    return;
  }
  if (status >= 500) {
    report.serverErrors++;
    note({ kind: "5xx", status, detail: text.slice(0, 200) });
  }
  // HEAD answers carry no body to judge; their content type still must not be HTML.
  if (status >= 400 && !isProblem && request.method !== "HEAD") {
    report.nonProblem++;
    note({ kind: "non_problem", status, detail: text.slice(0, 200) });
  }
  if (STACK_TRACE.test(text)) {
    report.stackTraces++;
    note({ kind: "stack_trace", status, detail: text.slice(0, 200) });
  }
  const headers = [...response.headers].map(([name, value]) => `${name}: ${value}`).join("\n");
  const leaked = options.secrets.filter((secret) => text.includes(secret) || headers.includes(secret));
  if (leaked.length > 0) {
    report.secretsInAnswers++;
    note({ kind: "secret_in_answer", status, detail: `${leaked.length} known secret(s) in the answer` });
  }
}

/** Fires `requests` generated requests at the target, `concurrency` at a time, and counts. */
export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const report: FuzzReport = {
    requests: 0,
    seed: options.seed,
    byStatus: {},
    serverErrors: 0,
    runtime501: 0,
    nonProblem: 0,
    stackTraces: 0,
    secretsInAnswers: 0,
    dropped: 0,
    timeouts: 0,
    clientErrors: 0,
    findings: [],
  };
  const queue = generateRequests(options.context, options.seed, options.requests);
  let done = 0;
  const worker = async () => {
    for (let next = queue.next(); !next.done && !options.signal?.aborted; next = queue.next()) {
      await send(options, next.value, report);
      report.requests = ++done;
      options.onProgress?.(done);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  return report;
}

/** The report as a few lines for a terminal. */
export function formatReport(report: FuzzReport): string {
  const statuses = Object.entries(report.byStatus)
    .map(([status, count]) => `${status}×${count}`)
    .join(" ");
  const lines = [
    `fuzz: ${report.requests} requests, seed ${report.seed}`,
    `  statuses          ${statuses}`,
    `  5xx               ${report.serverErrors}`,
    `  runtime 501       ${report.runtime501} (unknown methods, answered by the runtime itself)`,
    `  non-problem error ${report.nonProblem}`,
    `  stack traces      ${report.stackTraces}`,
    `  secrets in answer ${report.secretsInAnswers}`,
    `  dropped           ${report.dropped}`,
    `  timeouts          ${report.timeouts}`,
    `  client errors     ${report.clientErrors} (requests the fuzz client could not send as generated)`,
  ];
  for (const finding of report.findings.slice(0, 20)) {
    lines.push(
      `  ! ${finding.kind} ${finding.method} ${finding.path} ${finding.status ?? ""} ${finding.detail}`,
    );
  }
  return `${lines.join("\n")}\n`;
}
