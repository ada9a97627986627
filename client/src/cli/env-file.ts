/**
 * A dotenv file as `chittyconnect run --env-file` reads it: `NAME=value` lines, `#` comments, blank lines,
 * an optional `export ` prefix, values in single quotes (taken as written) or double quotes (with `\n`,
 * `\"` and `\\` escapes). Unquoted values end at ` #`. One line per variable (no multi-line values).
 */
const LINE = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/;
const MAX_LINES = 10_000;

export class EnvFileError extends Error {
  override readonly name = "EnvFileError";
}

export function parseEnvFile(text: string): Map<string, string> {
  const variables = new Map<string, string>();
  const lines = text.split(/\r?\n/);
  if (lines.length > MAX_LINES) throw new EnvFileError(`more than ${MAX_LINES} lines`);
  lines.forEach((line, index) => {
    if (/^\s*(#|$)/.test(line)) return;
    const match = LINE.exec(line);
    if (!match) throw new EnvFileError(`line ${index + 1}: expected NAME=value`);
    const [, name, raw = ""] = match;
    variables.set(name as string, unquote(raw, index + 1));
  });
  return variables;
}

function unquote(raw: string, line: number): string {
  const quote = raw[0];
  if (quote === "'" || quote === '"') {
    const close = raw.lastIndexOf(quote);
    if (close === 0) throw new EnvFileError(`line ${line}: unterminated ${quote}`);
    const trailing = raw.slice(close + 1).trim();
    if (trailing !== "" && !trailing.startsWith("#"))
      throw new EnvFileError(`line ${line}: text after the closing quote`);
    const inner = raw.slice(1, close);
    if (quote === "'") return inner;
    return inner.replace(/\\([n"\\])/g, (_, c: string) => (c === "n" ? "\n" : c));
  }
  const comment = raw.search(/\s#/);
  return (comment < 0 ? raw : raw.slice(0, comment)).trimEnd();
}
