import {
  isJsonMediaType,
  parseJsonBytes,
  readRequestLimited,
  unsupportedMediaType,
  validationProblem,
} from "@chittyconnect/contract";
import type { z } from "zod";

export const MAX_JSON_BODY_BYTES = 64 * 1024;

/** Content type, size, JSON syntax, then shape: each failure is its own client error. */
export async function readJsonBody<T>(
  request: Request,
  schema: z.ZodType<T>,
  maxBytes = MAX_JSON_BODY_BYTES,
): Promise<T> {
  if (!isJsonMediaType(request.headers.get("content-type"))) throw unsupportedMediaType();
  const parsed = parseJsonBytes(await readRequestLimited(request, maxBytes));
  const result = schema.safeParse(parsed);
  if (!result.success) throw validationProblem(result.error);
  return result.data;
}
