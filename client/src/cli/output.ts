import { ChittyNetworkError, ChittyProblemError } from "../problem.ts";
import { ConfigError } from "./config.ts";
import { EnvFileError } from "./env-file.ts";
import { BadReferenceError } from "./references.ts";

/** The CLI's exit codes (README "Command-line client"); `run` exits with its child's code instead. */
export const EXIT = {
  ok: 0,
  /** Bad arguments, a malformed reference, env file or template. */
  usage: 1,
  /** No edge URL or token, or a config file that is unreadable or too open. */
  config: 2,
  /** 401/403: the token is unknown, revoked or lacks a scope, or the policy denies the path. */
  denied: 3,
  /** 404: no such vault, item, field, token or route. */
  notFound: 4,
  /** The edge could not be reached, timed out, or answered 502/503/504 (origin or Connect down). */
  unavailable: 5,
  /** 429: rate limited; see `Retry-After`. */
  rateLimited: 6,
  /** Any other refusal (400, 409, 412, 413, 415, 422…): the request was wrong for its state. */
  refused: 7,
  /** A 500, or an answer the CLI could not make sense of. */
  failed: 8,
} as const;

export class UsageError extends Error {
  override readonly name = "UsageError";
}

export function exitCodeFor(error: unknown): number {
  if (error instanceof ChittyProblemError) {
    if (error.status === 401 || error.status === 403) return EXIT.denied;
    if (error.status === 404) return EXIT.notFound;
    if (error.status === 429) return EXIT.rateLimited;
    if (error.status === 502 || error.status === 503 || error.status === 504) return EXIT.unavailable;
    if (error.status >= 400 && error.status < 500) return EXIT.refused;
    return EXIT.failed;
  }
  if (error instanceof ChittyNetworkError) return EXIT.unavailable;
  if (error instanceof ConfigError) return EXIT.config;
  if (error instanceof UsageError || error instanceof BadReferenceError || error instanceof EnvFileError) {
    return EXIT.usage;
  }
  return EXIT.failed;
}

/** One line: `chittyconnect: <title> (<code>, request <requestId>)`, plus the detail when there is one. */
export function errorLine(error: unknown): string {
  if (error instanceof ChittyProblemError) {
    const where = [error.code, error.requestId ? `request ${error.requestId}` : undefined]
      .filter(Boolean)
      .join(", ");
    const members = error.errors
      .slice(0, 3)
      .map((e) => `${e.pointer ?? e.path ?? ""} ${e.message}`.trim())
      .join("; ");
    const detail = [error.detail, members].filter(Boolean).join(": ");
    return `chittyconnect: ${error.title}${detail ? `: ${detail}` : ""} (${where})`;
  }
  if (error instanceof Error) return `chittyconnect: ${error.message}`;
  return "chittyconnect: failed";
}

export interface Style {
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
}

/** ANSI colours on a terminal only, and never with `NO_COLOR` set (no-color.org). */
export function styleFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): Style {
  const on = stream.isTTY === true && !env.NO_COLOR;
  const wrap = (code: number) => (text: string) => (on ? `\x1b[${code}m${text}\x1b[0m` : text);
  return { bold: wrap(1), dim: wrap(2), red: wrap(31), green: wrap(32) };
}

/**
 * Runs `work`; when it takes longer than `afterMs` and stderr is a terminal, shows `label…` on stderr
 * (with the elapsed seconds) until it ends, then clears the line. Off a terminal it prints nothing.
 */
export async function withProgress<T>(
  label: string,
  work: Promise<T>,
  stderr: NodeJS.WriteStream = process.stderr,
  afterMs = 1000,
): Promise<T> {
  if (!stderr.isTTY) return work;
  const started = Date.now();
  let shown = false;
  const draw = () => {
    shown = true;
    stderr.write(`\r\x1b[2K${label}… ${((Date.now() - started) / 1000).toFixed(0)} s`);
  };
  let ticker: NodeJS.Timeout | undefined;
  const first = setTimeout(() => {
    draw();
    ticker = setInterval(draw, 1000);
  }, afterMs);
  try {
    return await work;
  } finally {
    clearTimeout(first);
    clearInterval(ticker);
    if (shown) stderr.write("\r\x1b[2K");
  }
}
