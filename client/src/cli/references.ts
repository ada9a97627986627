/**
 * Secret references: `chittyconnect://<vault>/<item>/<field>[?service=<s>&purpose=<p>]`.
 *
 * - Exactly three path segments, each non-empty, percent-encoded where needed: `%3F` for `?`, `%23` `#`,
 *   `%25` `%`, `%20` a space (titles may hold spaces, `+` and quotes; `+` stays a plus). A title with a
 *   `/` cannot be named (the edge's `credentialPath` splits on it): use the item's id.
 * - The query may name `service` and `purpose` (each at most once, values percent-encoded); they win over
 *   the command's `--service`/`--purpose`. Any other parameter is an error, so a typo never goes unseen.
 */
export interface SecretReference {
  vault: string;
  item: string;
  field: string;
  service?: string;
  purpose?: string;
}

export const SCHEME = "chittyconnect://";
const MAX_REFERENCE_LENGTH = 2048;

export class BadReferenceError extends Error {
  override readonly name = "BadReferenceError";
}

function decode(part: string, what: string): string {
  if (/%(?![0-9A-Fa-f]{2})/.test(part))
    throw new BadReferenceError(`${what}: a "%" must start an escape like %20`);
  try {
    return decodeURIComponent(part);
  } catch {
    throw new BadReferenceError(`${what}: an escape is not valid UTF-8`);
  }
}

/** Whether `text` is meant as a reference (it starts with the scheme). */
export function isReference(text: string): boolean {
  return text.startsWith(SCHEME);
}

/** Parses one reference; throws `BadReferenceError` saying what is wrong (never echoing the whole text). */
export function parseReference(text: string): SecretReference {
  if (!isReference(text)) throw new BadReferenceError(`a reference starts with ${SCHEME}`);
  if (text.length > MAX_REFERENCE_LENGTH)
    throw new BadReferenceError(`longer than ${MAX_REFERENCE_LENGTH} characters`);
  const rest = text.slice(SCHEME.length);
  const queryAt = rest.indexOf("?");
  const path = queryAt < 0 ? rest : rest.slice(0, queryAt);
  const query = queryAt < 0 ? undefined : rest.slice(queryAt + 1);
  if (path.includes("#") || query?.includes("#")) throw new BadReferenceError('"#" must be written %23');
  const segments = path.split("/");
  if (segments.length !== 3) {
    throw new BadReferenceError(
      `needs <vault>/<item>/<field> (${segments.length} segment${segments.length === 1 ? "" : "s"} found)`,
    );
  }
  const names = ["vault", "item", "field"] as const;
  const decoded = segments.map((segment, i) => {
    const what = names[i] as string;
    if (segment === "") throw new BadReferenceError(`the ${what} is empty`);
    if (/[\s\p{Cc}]/u.test(segment)) throw new BadReferenceError(`the ${what} holds whitespace: write %20`);
    const value = decode(segment, `the ${what}`);
    if (value.includes("/"))
      throw new BadReferenceError(`the ${what} holds "/", which credentialPath cannot carry`);
    return value;
  });
  const reference: SecretReference = { vault: decoded[0]!, item: decoded[1]!, field: decoded[2]! };
  if (query !== undefined && query !== "") {
    for (const pair of query.split("&")) {
      const eq = pair.indexOf("=");
      const key = eq < 0 ? pair : pair.slice(0, eq);
      if (key !== "service" && key !== "purpose") {
        throw new BadReferenceError(`unknown parameter "${key.slice(0, 32)}" (only service and purpose)`);
      }
      if (reference[key] !== undefined) throw new BadReferenceError(`${key} given twice`);
      const value = decode(eq < 0 ? "" : pair.slice(eq + 1), key);
      if (value === "") throw new BadReferenceError(`${key} is empty`);
      reference[key] = value;
    }
  }
  return reference;
}

function encode(part: string): string {
  // encodeURIComponent leaves ! ' ( ) * ~ as they are, which the grammar allows raw.
  return encodeURIComponent(part).replace(/%2B/g, "+");
}

/** The canonical text of a reference; `parseReference(formatReference(r))` gives `r` back. */
export function formatReference(reference: SecretReference): string {
  const path = [reference.vault, reference.item, reference.field].map(encode).join("/");
  const query = (["service", "purpose"] as const)
    .filter((key) => reference[key] !== undefined)
    .map((key) => `${key}=${encode(reference[key] as string)}`)
    .join("&");
  return `${SCHEME}${path}${query ? `?${query}` : ""}`;
}

/** `vault/item/field` as the edge takes it in `credentialPath`. */
export function credentialPath(reference: SecretReference): string {
  return `${reference.vault}/${reference.item}/${reference.field}`;
}

/** `{{ chittyconnect://… }}` in a template (spaces inside the braces optional). */
export const TEMPLATE_REFERENCE = /\{\{\s*(chittyconnect:\/\/[^\s}]+)\s*\}\}/g;
