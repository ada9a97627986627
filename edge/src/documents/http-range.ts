export type RangeResult =
  | { kind: "full" }
  | { kind: "partial"; offset: number; length: number }
  | { kind: "unsatisfiable" };

/**
 * One `bytes=` range (RFC 9110 §14). Several ranges, other units or a malformed header are ignored
 * and the whole representation is served, which the RFC allows; a well-formed range that starts
 * past the end is unsatisfiable (416).
 */
export function parseRange(header: string | null | undefined, size: number): RangeResult {
  if (!header) return { kind: "full" };
  const match = /^bytes=(\d{0,15})-(\d{0,15})$/.exec(header.trim());
  if (!match) return { kind: "full" };
  const [, first = "", last = ""] = match;
  if (first === "" && last === "") return { kind: "full" };
  if (first === "") {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return { kind: "unsatisfiable" };
    const length = Math.min(suffix, size);
    return { kind: "partial", offset: size - length, length };
  }
  const start = Number(first);
  const end = last === "" ? size - 1 : Number(last);
  if (last !== "" && end < start) return { kind: "full" };
  if (start >= size) return { kind: "unsatisfiable" };
  return { kind: "partial", offset: start, length: Math.min(end, size - 1) - start + 1 };
}

/** Strong validator for one immutable version of a document. */
export function etagFor(documentId: string, version: number): string {
  return `"${documentId}.${version}"`;
}

/** True when an If-None-Match / If-Match list names `etag` (weak comparison for If-None-Match). */
export function etagListMatches(header: string, etag: string, weak: boolean): boolean {
  if (header.trim() === "*") return true;
  return header.split(",").some((candidate) => {
    const tag = candidate.trim();
    return tag === etag || (weak && tag.startsWith("W/") && tag.slice(2) === etag);
  });
}

/** RFC 6266 attachment header with an ASCII fallback and the UTF-8 name. */
export function contentDisposition(filename: string, inline = false): string {
  const fallback = filename.replace(/[^\x20-\x7e]|["\\]/g, "_");
  const encoded = encodeURIComponent(filename).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16)}`);
  return `${inline ? "inline" : "attachment"}; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}
