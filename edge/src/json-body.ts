import { ProblemError, validationProblem } from "@chittyconnect/contract";
import type { z } from "zod";

export const MAX_JSON_BODY_BYTES = 64 * 1024;

function tooLarge(maxBytes: number): ProblemError {
  return new ProblemError({
    status: 413,
    code: "body_too_large",
    title: "Payload too large",
    detail: `The request body must be at most ${maxBytes} bytes.`,
  });
}

/** Reads at most `maxBytes` of a stream; larger bodies are refused without buffering them whole. */
export async function readLimited(
  body: ReadableStream<Uint8Array> | null,
  maxBytes: number,
): Promise<Uint8Array> {
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
      throw tooLarge(maxBytes);
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

export function isJsonMediaType(contentType: string | null | undefined): boolean {
  const mediaType = contentType?.split(";")[0]?.trim().toLowerCase();
  return mediaType === "application/json";
}

/** Content type, size, JSON syntax, then shape: each failure is its own client error. */
export async function readJsonBody<T>(
  request: Request,
  schema: z.ZodType<T>,
  maxBytes = MAX_JSON_BODY_BYTES,
): Promise<T> {
  if (!isJsonMediaType(request.headers.get("content-type"))) {
    throw new ProblemError({
      status: 415,
      code: "unsupported_media_type",
      title: "Unsupported media type",
      detail: "Send the body as application/json.",
    });
  }
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(maxBytes);
  const bytes = await readLimited(request.body, maxBytes);
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes));
  } catch {
    throw new ProblemError({
      status: 400,
      code: "malformed_json",
      title: "Malformed JSON",
      detail: "The request body is not valid UTF-8 JSON.",
    });
  }
  const result = schema.safeParse(parsed);
  if (!result.success) throw validationProblem(result.error);
  return result.data;
}
