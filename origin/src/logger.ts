import { createRequire } from "node:module";
import { type DestinationStream, type Logger, type LoggerOptions, pino } from "pino";
import { SECRET_VARIABLES } from "./config.ts";

export type { Logger };

/**
 * What a log line may carry: flat fields of plain values the caller chose one by one. An error,
 * request or response object (whose nesting holds headers, bodies and tokens) does not fit the type.
 */
export type LogFields = Readonly<Record<string, string | number | boolean | null | undefined>>;

/** One level of a FieldLogger: fields then a message, or a message alone. */
export type LogMethod = (fields: LogFields | string, message?: string) => void;

/** The logging surface the origin's modules use; a pino logger is one. */
export interface FieldLogger {
  debug: LogMethod;
  info: LogMethod;
  warn: LogMethod;
  error: LogMethod;
}

/**
 * Top-level keys pino replaces with "[redacted]": a last guard should someone log such a field by
 * name. Only top-level paths: lines are flat, and wildcard paths cost a tree walk per line.
 */
export const REDACT_PATHS = [
  "authorization",
  "cookie",
  "value",
  "jwe",
  "token",
  "accessToken",
  ...SECRET_VARIABLES,
  "secret",
  "password",
  "key",
  "signature",
];

/** Whatever reaches pino under `err` is cut down to what cannot carry a request: name and code. */
function errSerializer(error: unknown): LogFields {
  return errorFields(error);
}

export interface CreateLoggerOptions {
  level: string;
  /** Tests pass a stream to read what was logged; production writes to stdout. */
  destination?: DestinationStream;
}

export function createLogger(options: CreateLoggerOptions): Logger {
  const base: LoggerOptions = {
    level: options.level,
    base: { service: "chittyconnect-origin" },
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    serializers: { err: errSerializer },
  };
  if (options.destination) return pino(base, options.destination);
  if (process.stdout.isTTY && prettyPrinterInstalled()) {
    return pino({ ...base, transport: { target: "pino-pretty", options: { colorize: true } } });
  }
  return pino(base);
}

/**
 * An unexpected error as loggable fields: its class and system code (ENOSPC, EACCES, …) and where
 * it was thrown. Never its message: messages quote their input (JSON.parse quotes the text it
 * failed on, an HTTP client its URL and body), and input is where secrets live.
 */
export function errorFields(error: unknown): LogFields {
  if (typeof error !== "object" || error === null) return { error: typeof error };
  const record = error as { name?: unknown; code?: unknown; syscall?: unknown; stack?: unknown };
  const frame =
    typeof record.stack === "string"
      ? /\n\s+at (?:.*\()?(\S+?:\d+):\d+\)?/.exec(record.stack)?.[1]
      : undefined;
  return {
    error: typeof record.name === "string" ? record.name : "Error",
    ...(typeof record.code === "string" ? { code: record.code } : {}),
    ...(typeof record.syscall === "string" ? { syscall: record.syscall } : {}),
    ...(frame ? { at: frame } : {}),
  };
}

/**
 * One request's log: the request id added to each line. A plain object per request instead of a
 * pino child, whose bindings pass through redaction each time one is built.
 */
export class RequestLog implements FieldLogger {
  readonly #logger: Logger;
  readonly #requestId: string;

  constructor(logger: Logger, requestId: string) {
    this.#logger = logger;
    this.#requestId = requestId;
  }

  debug(fields: LogFields | string, message?: string): void {
    this.#write("debug", fields, message);
  }

  info(fields: LogFields | string, message?: string): void {
    this.#write("info", fields, message);
  }

  warn(fields: LogFields | string, message?: string): void {
    this.#write("warn", fields, message);
  }

  error(fields: LogFields | string, message?: string): void {
    this.#write("error", fields, message);
  }

  #write(level: "debug" | "info" | "warn" | "error", fields: LogFields | string, message?: string): void {
    if (!this.#logger.isLevelEnabled(level)) return;
    if (typeof fields === "string") this.#logger[level]({ requestId: this.#requestId }, fields);
    else this.#logger[level]({ requestId: this.#requestId, ...fields }, message);
  }
}

/**
 * pino-pretty is a development dependency: the image has none, and `docker run -t` must not make
 * pino ask for it (it would crash at start-up). Without it a terminal gets the JSON lines.
 */
export function prettyPrinterInstalled(
  resolve: (id: string) => string = createRequire(import.meta.url).resolve,
): boolean {
  try {
    resolve("pino-pretty");
    return true;
  } catch {
    return false;
  }
}

// Same alphabet as the edge and nginx accept, so one id follows a request through every log.
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Keeps a caller's request id when it is safe to echo and log; otherwise mints one. */
export function resolveRequestId(header: string | null | undefined): string {
  if (header && SANE_REQUEST_ID.test(header)) return header;
  return crypto.randomUUID();
}
