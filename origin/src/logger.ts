import { createRequire } from "node:module";
import { type DestinationStream, type Logger, type LoggerOptions, pino } from "pino";
import { SECRET_VARIABLES } from "./config.ts";

export type { Logger };

/**
 * Paths pino replaces with "[redacted]". Listed at the top level and one or two levels down,
 * because secrets reach logs inside request objects, errors and service results alike.
 */
const SECRET_KEYS = [
  "authorization",
  "cookie",
  "set-cookie",
  "cf-access-client-secret",
  "cf-access-jwt-assertion",
  "x-chitty-signature",
  "value",
  "jwe",
  "token",
  "accessToken",
  ...SECRET_VARIABLES,
  "key",
  "secret",
  "password",
];

/** Header names contain hyphens, which redact paths only accept in bracket notation. */
const segment = (key: string) => (/^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `["${key}"]`);

export const REDACT_PATHS: string[] = SECRET_KEYS.flatMap((key) => {
  const tail = segment(key);
  return [tail.startsWith(".") ? key : tail, `*${tail}`, `*.*${tail}`];
});

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
  };
  if (options.destination) return pino(base, options.destination);
  if (process.stdout.isTTY && prettyPrinterInstalled()) {
    return pino({ ...base, transport: { target: "pino-pretty", options: { colorize: true } } });
  }
  return pino(base);
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
