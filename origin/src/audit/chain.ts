import { type AuditEntry, AuditEntrySchema } from "@chittyconnect/contract";
import { entryHash, GENESIS_HASH } from "./entry.ts";

export type ChainResult =
  | { ok: true; count: number; last: AuditEntry | undefined }
  | { ok: false; line: number; reason: string; count: number; last: AuditEntry | undefined };

/**
 * Checks a JSON-lines audit log: every line parses, its hash covers its content, seq counts up
 * from 1 and prevHash links to the line before. Reports the first broken line (1-based).
 */
export function verifyChain(text: string): ChainResult {
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  let previous: AuditEntry | undefined;
  for (const [index, line] of lines.entries()) {
    const lineNumber = index + 1;
    const broken = (reason: string): ChainResult => ({
      ok: false,
      line: lineNumber,
      reason,
      count: index,
      last: previous,
    });
    let data: unknown;
    try {
      data = JSON.parse(line);
    } catch {
      return broken("not valid JSON (torn or edited line)");
    }
    const parsed = AuditEntrySchema.safeParse(data);
    if (!parsed.success)
      return broken(`not an audit entry (${parsed.error.issues[0]?.message ?? "bad shape"})`);
    const entry = parsed.data;
    // Hash the line as written, not the parsed shape: zod drops unknown members, which would let
    // an inserted field pass unnoticed.
    if (entryHash(data as AuditEntry) !== entry.hash)
      return broken("hash does not match the line's content (line altered)");
    const expectedSeq = (previous?.seq ?? 0) + 1;
    if (entry.seq !== expectedSeq) {
      return broken(`seq is ${entry.seq}, expected ${expectedSeq} (line deleted, inserted or reordered)`);
    }
    if (entry.prevHash !== (previous?.hash ?? GENESIS_HASH)) {
      return broken("prevHash does not match the previous line's hash (chain broken)");
    }
    previous = entry;
  }
  return { ok: true, count: lines.length, last: previous };
}
