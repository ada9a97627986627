/**
 * Content sniffing by magic bytes for the types that have them. A declared type is refused only when
 * the content clearly is something else; formats without a signature (text, CSV, JSON) pass.
 */
const SIGNATURES: { mime: string; bytes: number[]; offset?: number }[] = [
  { mime: "application/pdf", bytes: [0x25, 0x50, 0x44, 0x46, 0x2d] },
  { mime: "image/png", bytes: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] },
  { mime: "image/jpeg", bytes: [0xff, 0xd8, 0xff] },
  { mime: "image/gif", bytes: [0x47, 0x49, 0x46, 0x38] },
  { mime: "image/webp", bytes: [0x57, 0x45, 0x42, 0x50], offset: 8 },
  { mime: "application/zip", bytes: [0x50, 0x4b, 0x03, 0x04] },
  { mime: "application/gzip", bytes: [0x1f, 0x8b] },
  { mime: "application/x-msdownload", bytes: [0x4d, 0x5a] },
  { mime: "application/x-executable", bytes: [0x7f, 0x45, 0x4c, 0x46] },
];

export const MAGIC_BYTES_NEEDED = 16;

/** Container formats built on zip (OOXML, ODF, EPUB) legitimately start with a zip signature. */
const ZIP_BASED =
  /^application\/(zip|x-zip-compressed|epub\+zip|java-archive|vnd\.openxmlformats-.*|vnd\.oasis\.opendocument\..*)$/;

export function detectMime(head: Uint8Array): string | undefined {
  return SIGNATURES.find(({ bytes, offset = 0 }) => bytes.every((byte, i) => head[offset + i] === byte))
    ?.mime;
}

export const MimeTypeSchemaPattern = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$/;

/** Undefined when the declared type is acceptable for these bytes, else the type they look like. */
export function mimeConflict(declared: string, head: Uint8Array): string | undefined {
  const detected = detectMime(head);
  if (detected === undefined || detected === declared) return undefined;
  if (detected === "application/zip" && ZIP_BASED.test(declared)) return undefined;
  if (declared === "application/octet-stream") return undefined;
  return detected;
}

export function isTextLike(mime: string): boolean {
  return (
    mime.startsWith("text/") ||
    mime === "application/json" ||
    mime === "application/xml" ||
    mime === "application/x-ndjson" ||
    mime.endsWith("+json") ||
    mime.endsWith("+xml")
  );
}
