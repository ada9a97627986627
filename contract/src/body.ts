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

/**
 * How much of an over-limit body is read and discarded before the 413 goes out. A runtime that
 * finds a request body unread when it answers cannot reuse the connection: workerd drains at most
 * 64 KiB and then resets it, failing every other request on that keep-alive connection. Reading
 * the rest (up to this cap, never kept) lets the client read its 413 and go on; a body larger
 * than the cap is cut off, as a flood should be.
 */
/** A Content-Length worth believing (1 to 15 digits, nothing else); undefined when absent or odd. */
export function contentLength(value: string | null | undefined): number | undefined {
  return value != null && /^\d{1,15}$/.test(value) ? Number(value) : undefined;
}

export const DRAIN_LIMIT_BYTES = 8 * 1024 * 1024;

/**
 * Reads at most `maxBytes` of a stream; a longer one is refused with 413 once the rest has been
 * drained (up to `drainBytes` in all), or cancelled beyond that.
 */
export async function readStreamLimited(
  body: ReadableStream<Uint8Array> | null,
  maxBytes: number,
  drainBytes = DRAIN_LIMIT_BYTES,
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
      await drain(reader, total, drainBytes);
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
 * Before an error answer that did not read the request: drops the unread body (up to the drain cap)
 * so the runtime can reuse the connection, for the reason given at `DRAIN_LIMIT_BYTES`.
 */
export async function drainUnreadBody(request: Request, limit = DRAIN_LIMIT_BYTES): Promise<void> {
  if (!request.body || request.bodyUsed) return;
  let reader: ReadableStreamDefaultReader<Uint8Array>;
  try {
    reader = request.body.getReader();
  } catch {
    // Locked by a reader that is still going: that reader owns the body.
    return;
  }
  await drain(reader, 0, limit);
}

/** Reads and drops the rest of a stream up to `limit` bytes in all; cancels it past that. */
async function drain(reader: ReadableStreamDefaultReader<Uint8Array>, seen: number, limit: number) {
  let total = seen;
  try {
    while (total <= limit) {
      const { done, value } = await reader.read();
      if (done) return;
      total += value.byteLength;
    }
    await reader.cancel();
  } catch {
    // The sender went away mid-body: there is nothing left to keep alive.
  }
}

/**
 * A request's body under a limit: the running count catches chunked or lying senders. An honest
 * Content-Length over the limit is drained like a chunked body when it is within the drain cap,
 * and refused unread (the connection then closes) beyond it.
 */
export function readRequestLimited(request: Request, maxBytes: number): Promise<Uint8Array<ArrayBuffer>> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (Number.isFinite(declared) && declared > DRAIN_LIMIT_BYTES)
    return Promise.reject(payloadTooLarge(maxBytes));
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
