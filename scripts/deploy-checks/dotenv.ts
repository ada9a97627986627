/**
 * The `.env` subset docker compose reads: KEY=VALUE lines, `#` comments, optional `export`,
 * single quotes (literal) and double quotes (with \n, \t, \", \\ escapes). No multi-line values
 * and no interpolation: a deploy file that needs either is refused rather than misread.
 */
export const MAX_DOTENV_BYTES = 65_536;
export const MAX_DOTENV_ENTRIES = 500;
const KEY = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

export class DotenvError extends Error {
  override readonly name = "DotenvError";
}

export function parseDotenv(text: string): Record<string, string> {
  if (Buffer.byteLength(text) > MAX_DOTENV_BYTES) {
    throw new DotenvError(`file is larger than ${MAX_DOTENV_BYTES} bytes`);
  }
  const env: Record<string, string> = {};
  let count = 0;
  const lines = text.split(/\r?\n/);
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const where = `line ${index + 1}`;
    const body = line.startsWith("export ") ? line.slice(7).trimStart() : line;
    const eq = body.indexOf("=");
    if (eq <= 0) throw new DotenvError(`${where}: expected KEY=VALUE`);
    const key = body.slice(0, eq).trim();
    if (!KEY.test(key))
      throw new DotenvError(`${where}: ${JSON.stringify(key)} is not a valid variable name`);
    env[key] = parseValue(body.slice(eq + 1).trimStart(), where);
    count += 1;
    if (count > MAX_DOTENV_ENTRIES) throw new DotenvError(`more than ${MAX_DOTENV_ENTRIES} variables`);
  }
  return env;
}

function parseValue(value: string, where: string): string {
  const quote = value[0];
  if (quote === "'" || quote === '"') {
    const end = closingQuote(value, quote);
    if (end < 0) throw new DotenvError(`${where}: unterminated ${quote} quote (values must fit on one line)`);
    const rest = value.slice(end + 1).trim();
    if (rest !== "" && !rest.startsWith("#")) throw new DotenvError(`${where}: text after the closing quote`);
    const inner = value.slice(1, end);
    return quote === "'" ? inner : unescapeDouble(inner, where);
  }
  // An unquoted value ends at a ` #` comment, as in compose.
  const comment = value.search(/\s#/);
  return (comment < 0 ? value : value.slice(0, comment)).trim();
}

function closingQuote(value: string, quote: string): number {
  for (let i = 1; i < value.length; i += 1) {
    if (quote === '"' && value[i] === "\\") {
      i += 1;
      continue;
    }
    if (value[i] === quote) return i;
  }
  return -1;
}

const ESCAPES: Record<string, string> = { n: "\n", r: "\r", t: "\t", '"': '"', "\\": "\\" };

function unescapeDouble(inner: string, where: string): string {
  return inner.replace(/\\(.)/g, (_, char: string) => {
    const replacement = ESCAPES[char];
    if (replacement === undefined) throw new DotenvError(`${where}: unknown escape \\${char}`);
    return replacement;
  });
}

/** The inverse of parseDotenv for one value: always double-quoted, so any text round-trips. */
export function quoteDotenvValue(value: string): string {
  return `"${value.replace(/[\\"\n\r\t]/g, (char) => `\\${QUOTE_ESCAPES[char] ?? char}`)}"`;
}

const QUOTE_ESCAPES: Record<string, string> = { "\\": "\\", '"': '"', "\n": "n", "\r": "r", "\t": "t" };
