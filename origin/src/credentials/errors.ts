import { ProblemError } from "@chittyconnect/contract";
import type { LogFields } from "../logger.ts";

/** Seconds a client should wait before retrying when Connect cannot be reached. */
export const CONNECT_RETRY_AFTER_SECONDS = 5;

export const credentialNotFound = () =>
  new ProblemError({
    status: 404,
    code: "credential_not_found",
    title: "Credential not found",
    detail: "No credential exists at that path.",
  });

export const ambiguousTitle = (kind: "vault" | "item" | "field") =>
  new ProblemError({
    status: 409,
    code: "ambiguous_title",
    title: "Ambiguous title",
    detail: `More than one ${kind} has that title; rename one or address it by id.`,
  });

export type ConnectFailureKind = "rejected" | "error" | "unavailable" | "timeout";

export class ConnectFailure extends ProblemError {
  readonly kind: ConnectFailureKind;

  /** No cause is kept: the SDK's error holds the request, token included, and must not travel on. */
  constructor(kind: ConnectFailureKind) {
    super(connectProblem(kind));
    this.kind = kind;
  }
}

function connectProblem(kind: ConnectFailureKind) {
  switch (kind) {
    case "rejected":
      return {
        status: 502,
        code: "connect_rejected",
        title: "Secret store rejected the origin",
        detail: "The credential store refused the origin's credentials; an operator has been alerted.",
      };
    case "error":
      return {
        status: 502,
        code: "connect_error",
        title: "Secret store error",
        detail: "The credential store answered with an error.",
      };
    case "unavailable":
      return {
        status: 503,
        code: "connect_unavailable",
        title: "Secret store unavailable",
        detail: "The credential store cannot be reached; retry later.",
        headers: { "retry-after": String(CONNECT_RETRY_AFTER_SECONDS) },
      };
    case "timeout":
      return {
        status: 504,
        code: "connect_timeout",
        title: "Secret store timeout",
        detail: "The credential store did not answer in time.",
      };
  }
}

const UNREACHABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
  "UND_ERR_SOCKET",
]);
const TIMEOUT_CODES = new Set([
  "ECONNABORTED",
  "ETIMEDOUT",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
]);

/** An HTTP status from Connect, however it surfaced (SDK rejects with the body `{status, message}`). */
export function connectStatus(error: unknown): number | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const record = error as { status?: unknown; response?: { status?: unknown } };
  if (typeof record.status === "number") return record.status;
  if (typeof record.response?.status === "number") return record.response.status;
  return undefined;
}

/**
 * Classifies a failed Connect call: SDK errors (Connect's `{status, message}` body, or an axios
 * error with a `code`) and fetch errors (TypeError with a `cause.code`, or a TimeoutError).
 * Returns "not_found" for 404 so callers can answer credential_not_found.
 */
export function classifyConnectError(error: unknown): ConnectFailureKind | "not_found" {
  const status = connectStatus(error);
  if (status === 404) return "not_found";
  if (status === 401 || status === 403) return "rejected";
  if (status !== undefined) return "error";
  const codes = errorCodes(error);
  if (codes.some((code) => TIMEOUT_CODES.has(code))) return "timeout";
  if (codes.some((code) => UNREACHABLE_CODES.has(code))) return "unavailable";
  return "error";
}

function errorCodes(error: unknown): string[] {
  const codes: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 4 && typeof current === "object" && current !== null; depth++) {
    const record = current as { code?: unknown; name?: unknown; cause?: unknown; errors?: unknown };
    if (typeof record.code === "string") codes.push(record.code);
    if (record.name === "TimeoutError") codes.push("ETIMEDOUT");
    // Node's happy-eyeballs connect reports an AggregateError whose members carry the codes.
    if (Array.isArray(record.errors)) codes.push(...record.errors.flatMap((inner) => errorCodes(inner)));
    current = record.cause;
  }
  return codes;
}

/** Connect's own message is logged, cut short: it names the failure, not the request. */
const MAX_CONNECT_MESSAGE = 200;

/**
 * A failed Connect call as log fields: Connect's HTTP status and message when it answered, the
 * network code (ECONNREFUSED, ETIMEDOUT, …) when it did not. Nothing else is read from the error.
 */
export function connectErrorFields(error: unknown): LogFields {
  const status = connectStatus(error);
  if (status !== undefined) {
    const message = (error as { message?: unknown }).message;
    return {
      status,
      ...(typeof message === "string" ? { connectMessage: message.slice(0, MAX_CONNECT_MESSAGE) } : {}),
    };
  }
  const [code] = errorCodes(error);
  return code === undefined ? {} : { code };
}
