import { invalidForm } from "./problems.ts";

/** Everything before the file's bytes must fit in this (fields are small JSON and words). */
export const FORM_HEAD_LIMIT = 64 * 1024;
const FIELD_LIMIT = 16 * 1024;
const MAX_PARTS = 8;

export interface FormFile {
  filename: string;
  contentType: string;
}

export interface FormHead {
  fields: Map<string, string>;
  file: FormFile;
  /** Exactly the file's bytes; errors with an invalid_form problem if the form does not end right. */
  fileBody: ReadableStream<Uint8Array>;
  fileLength: number;
  /** Why fileBody errored, if it did (storage reports its own, less useful, error). */
  failure: () => unknown;
}

const encoder = new TextEncoder();
const CRLF = encoder.encode("\r\n");
const HEADER_END = encoder.encode("\r\n\r\n");

/** The boundary from a multipart/form-data Content-Type, or undefined. */
export function formBoundary(contentType: string | null | undefined): string | undefined {
  if (!contentType) return undefined;
  const [mediaType, ...params] = contentType.split(";");
  if (mediaType?.trim().toLowerCase() !== "multipart/form-data") return undefined;
  for (const param of params) {
    const match = /^\s*boundary\s*=\s*(?:"([^"]{1,70})"|([^\s";]{1,70}))\s*$/i.exec(param);
    if (match) return match[1] ?? match[2];
  }
  return undefined;
}

export function indexOfBytes(haystack: Uint8Array, needle: Uint8Array, from = 0): number {
  const first = needle[0];
  if (first === undefined) return from;
  for (let i = haystack.indexOf(first, from); i !== -1; i = haystack.indexOf(first, i + 1)) {
    if (i + needle.length > haystack.length) return -1;
    let j = 1;
    while (j < needle.length && haystack[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
  }
  return -1;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a, 0);
  out.set(b, a.byteLength);
  return out;
}

function parseDisposition(headers: string): { name: string; filename?: string; contentType: string } {
  let name: string | undefined;
  let filename: string | undefined;
  let contentType = "application/octet-stream";
  for (const line of headers.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon < 1) throw invalidForm("A part header is malformed.");
    const header = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (header === "content-disposition") {
      if (!/^form-data\s*(;|$)/i.test(value)) throw invalidForm("Parts must be form-data.");
      name = /;\s*name="([^"]*)"/i.exec(value)?.[1];
      filename = /;\s*filename="([^"]*)"/i.exec(value)?.[1];
    } else if (header === "content-type") {
      contentType = value.toLowerCase();
    }
  }
  if (name === undefined) throw invalidForm("Every part needs a Content-Disposition name.");
  return filename === undefined ? { name, contentType } : { name, filename, contentType };
}

/**
 * Reads a multipart/form-data body up to the start of the `file` part, which must be the last part.
 * The file's length then follows from Content-Length (what comes after it is the fixed closing
 * delimiter), so its bytes stream on to storage with a known length, unbuffered and unscanned.
 */
export async function readFormHead(
  body: ReadableStream<Uint8Array>,
  boundary: string,
  contentLength: number,
): Promise<FormHead> {
  const reader = body.getReader();
  const delimiter = encoder.encode(`--${boundary}`);
  const partDelimiter = encoder.encode(`\r\n--${boundary}`);
  const closing = encoder.encode(`\r\n--${boundary}--\r\n`);
  let buffer: Uint8Array = new Uint8Array(0);
  let consumed = 0; // bytes of the body before `buffer`
  let ended = false;

  const more = async (): Promise<void> => {
    if (ended) throw invalidForm("The form ended before its file part.");
    const { done, value } = await reader.read();
    if (done) {
      ended = true;
      return;
    }
    buffer = concat(buffer, value);
  };
  const find = async (needle: Uint8Array, from: number): Promise<number> => {
    for (;;) {
      const at = indexOfBytes(buffer, needle, from);
      if (at !== -1) return at;
      if (consumed + buffer.byteLength > FORM_HEAD_LIMIT) {
        throw invalidForm(`Fields before the file must fit in ${FORM_HEAD_LIMIT} bytes; put the file last.`);
      }
      await more();
      if (ended) throw invalidForm("The form ended early; is `file` its last part?");
    }
  };
  const drop = (n: number) => {
    buffer = buffer.subarray(n);
    consumed += n;
  };

  try {
    const start = await find(delimiter, 0);
    if (start !== 0) throw invalidForm("The form must start with its boundary.");
    drop(delimiter.length);
    const fields = new Map<string, string>();
    for (let part = 0; part < MAX_PARTS; part++) {
      while (buffer.byteLength < 2) await more();
      if (buffer[0] === 0x2d && buffer[1] === 0x2d) throw invalidForm("The form has no `file` part.");
      if (buffer[0] !== CRLF[0] || buffer[1] !== CRLF[1]) throw invalidForm("A boundary is malformed.");
      drop(2);
      const headerEnd = await find(HEADER_END, 0);
      const headers = new TextDecoder().decode(buffer.subarray(0, headerEnd));
      drop(headerEnd + HEADER_END.length);
      const disposition = parseDisposition(headers);
      if (disposition.filename !== undefined) {
        if (disposition.name !== "file") throw invalidForm("The only file part must be named `file`.");
        const fileLength = contentLength - consumed - closing.length;
        if (fileLength < 0) throw invalidForm("Content-Length is shorter than the form.");
        const file = { filename: disposition.filename, contentType: disposition.contentType };
        const stream = fileStream(reader, buffer, fileLength, closing, partDelimiter);
        return { fields, file, fileLength, fileBody: stream.body, failure: stream.failure };
      }
      const valueEnd = await find(partDelimiter, 0);
      if (valueEnd > FIELD_LIMIT)
        throw invalidForm(`Field ${disposition.name} exceeds ${FIELD_LIMIT} bytes.`);
      if (fields.has(disposition.name)) throw invalidForm(`Field ${disposition.name} appears twice.`);
      fields.set(disposition.name, new TextDecoder().decode(buffer.subarray(0, valueEnd)));
      drop(valueEnd + partDelimiter.length);
    }
    throw invalidForm(`A form may have at most ${MAX_PARTS} parts.`);
  } catch (error) {
    await reader.cancel().catch(() => undefined);
    throw error;
  }
}

/** Passes exactly `length` bytes, then checks that only the closing delimiter followed. */
function fileStream(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  initial: Uint8Array,
  length: number,
  closing: Uint8Array,
  partDelimiter: Uint8Array,
): { body: ReadableStream<Uint8Array>; failure: () => unknown } {
  let failure: unknown;
  let remaining = length;
  // The file's bytes are still scanned for a delimiter (it cannot occur inside a part), which is
  // how a field sent after the file is caught instead of being stored as part of it.
  let carry = new Uint8Array(0);
  const scan = (body: Uint8Array) => {
    const seam = concat(carry, body.subarray(0, partDelimiter.length - 1));
    if (indexOfBytes(seam, partDelimiter) !== -1 || indexOfBytes(body, partDelimiter) !== -1) {
      throw invalidForm("`file` must be the last part of the form.");
    }
    const keep = partDelimiter.length - 1;
    carry = body.byteLength >= keep ? body.slice(body.byteLength - keep) : concat(carry, body).slice(-keep);
  };
  const tail = new Uint8Array(closing.length);
  let tailLength = 0;
  let pending: Uint8Array | undefined = initial.byteLength > 0 ? initial : undefined;

  const take = (chunk: Uint8Array): Uint8Array | undefined => {
    const body = chunk.subarray(0, Math.min(remaining, chunk.byteLength));
    remaining -= body.byteLength;
    scan(body);
    const extra = chunk.subarray(body.byteLength);
    if (tailLength + extra.byteLength > tail.length) throw invalidForm("Data follows the file part.");
    tail.set(extra, tailLength);
    tailLength += extra.byteLength;
    return body.byteLength > 0 ? body : undefined;
  };

  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        for (;;) {
          const chunk = pending ?? (await reader.read()).value;
          pending = undefined;
          if (chunk === undefined) {
            if (remaining > 0) throw invalidForm("The body is shorter than its Content-Length.");
            if (tailLength !== closing.length || indexOfBytes(tail, closing) !== 0) {
              throw invalidForm("`file` must be the last part, followed only by the closing boundary.");
            }
            controller.close();
            return;
          }
          const body = take(chunk);
          if (body) {
            controller.enqueue(body);
            return;
          }
        }
      } catch (error) {
        failure = error;
        await reader.cancel().catch(() => undefined);
        controller.error(error);
      }
    },
    async cancel(reason) {
      await reader.cancel(reason);
    },
  });
  return { body, failure: () => failure };
}
