import { ProblemError } from "@chittyconnect/contract";

export function payloadTooLarge(maxBytes: number): ProblemError {
  return new ProblemError({
    status: 413,
    code: "payload_too_large",
    title: "Request body too large",
    detail: `The request body must not exceed ${maxBytes} bytes.`,
  });
}

/**
 * Reads a request body into memory, refusing more than `maxBytes`. Content-Length is checked first
 * so honest oversized uploads are refused unread; the running count catches chunked or lying ones.
 */
export async function readBodyLimited(request: Request, maxBytes: number): Promise<Uint8Array<ArrayBuffer>> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBytes) throw payloadTooLarge(maxBytes);
  if (!request.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw payloadTooLarge(maxBytes);
    }
    chunks.push(value);
  }
  const body = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

/** True when the media type (ignoring parameters such as charset) is application/json. */
export function isJsonContentType(header: string | null | undefined): boolean {
  if (!header) return false;
  const mediaType = header.split(";", 1)[0] ?? "";
  return mediaType.trim().toLowerCase() === "application/json";
}

export function unsupportedMediaType(): ProblemError {
  return new ProblemError({
    status: 415,
    code: "unsupported_media_type",
    title: "Unsupported media type",
    detail: "Send the request body as application/json.",
  });
}

/** Parses JSON from bytes already read; malformed UTF-8 or JSON is the client's mistake (400). */
export function parseJsonBytes(body: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch {
    throw new ProblemError({
      status: 400,
      code: "invalid_json",
      title: "Malformed JSON",
      detail: "The request body is not valid UTF-8 JSON.",
    });
  }
}
