import { ProblemError } from "./problem.ts";

/**
 * Request-body handling both services share: a bounded read (never buffering more than the
 * limit), the JSON media-type check and JSON parsing, each failure its own client error.
 */
export function payloadTooLarge(maxBytes: number): ProblemError {
  return new ProblemError({
    status: 413,
    code: "payload_too_large",
    title: "Payload too large",
    detail: `The request body must be at most ${maxBytes} bytes.`,
  });
}

export function unsupportedMediaType(): ProblemError {
  return new ProblemError({
    status: 415,
    code: "unsupported_media_type",
    title: "Unsupported media type",
    detail: "Send the body as application/json.",
  });
}

/** True when the media type (ignoring parameters such as charset) is application/json. */
export function isJsonMediaType(header: string | null | undefined): boolean {
  const mediaType = header?.split(";", 1)[0]?.trim().toLowerCase();
  return mediaType === "application/json";
}

/** Reads at most `maxBytes` of a stream; a longer one is cancelled and refused with 413. */
export async function readStreamLimited(
  body: ReadableStream<Uint8Array> | null,
  maxBytes: number,
): Promise<Uint8Array<ArrayBuffer>> {
  if (!body) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
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
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/**
 * A request's body under a limit: an honest Content-Length over it is refused unread; the running
 * count catches chunked or lying senders.
 */
export function readRequestLimited(request: Request, maxBytes: number): Promise<Uint8Array<ArrayBuffer>> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (Number.isFinite(declared) && declared > maxBytes) return Promise.reject(payloadTooLarge(maxBytes));
  return readStreamLimited(request.body, maxBytes);
}

/** Parses JSON from bytes already read; malformed UTF-8 or JSON is the client's mistake (400). */
export function parseJsonBytes(body: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(body));
  } catch {
    throw new ProblemError({
      status: 400,
      code: "malformed_json",
      title: "Malformed JSON",
      detail: "The request body is not valid UTF-8 JSON.",
    });
  }
}
