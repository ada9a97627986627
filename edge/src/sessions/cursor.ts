import { fromBase64Url, toBase64Url, utf8 } from "@chittyconnect/contract";
import type { z } from "zod";

/** Opaque keyset cursor: the sort key of the last row returned, so pages stay stable under inserts. */
export function encodeCursor(key: readonly (string | number)[]): string {
  return toBase64Url(utf8(JSON.stringify(key)));
}

/** undefined when the cursor is not one this API issued for the same list. */
export function decodeCursor<T>(cursor: string, schema: z.ZodType<T>): T | undefined {
  const bytes = fromBase64Url(cursor);
  if (!bytes) return undefined;
  try {
    const parsed = schema.safeParse(JSON.parse(new TextDecoder().decode(bytes)));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
