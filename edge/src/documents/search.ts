import { badRequest } from "./problems.ts";
import type { DocumentView } from "./schemas.ts";
import { type DocumentStore, toView, toVisible, VISIBLE_COLUMNS, type VisibleRow } from "./store.ts";

export interface SearchInput {
  q?: string | undefined;
  type?: string | undefined;
  tag?: string | undefined;
  sharedWithMe: boolean;
  cursor?: string | undefined;
  limit: number;
}

const MAX_OFFSET = 10_000;
const MAX_TERMS = 10;

/**
 * Turns what a user typed into an FTS5 query of quoted terms (all required, the last one as a
 * prefix), so FTS5 operators and column filters in the input are just text.
 */
export function ftsQuery(q: string): string | undefined {
  const terms = q.match(/[\p{L}\p{N}]+/gu)?.slice(0, MAX_TERMS) ?? [];
  if (terms.length === 0) return undefined;
  return terms.map((term, i) => `"${term}"${i === terms.length - 1 ? "*" : ""}`).join(" ");
}

function decodeCursor(cursor: string | undefined): number {
  if (cursor === undefined) return 0;
  const match = /^o([0-9]{1,5})$/.exec(cursor);
  const offset = match ? Number(match[1]) : Number.NaN;
  if (!(offset >= 0 && offset <= MAX_OFFSET))
    throw badRequest("invalid_cursor", "The cursor is not one this API issued.");
  return offset;
}

export async function searchDocuments(
  store: DocumentStore,
  actor: string,
  input: SearchInput,
): Promise<{ documents: (DocumentView & { snippet: string | null })[]; nextCursor: string | null }> {
  const offset = decodeCursor(input.cursor);
  const match = input.q === undefined ? undefined : ftsQuery(input.q);
  if (input.q !== undefined && match === undefined) {
    throw badRequest("invalid_query", "The query has no searchable words.");
  }
  const binds: unknown[] = [actor];
  const where = ["d.status = 'active'"];
  where.push(input.sharedWithMe ? "p.permission IS NOT NULL AND d.owner != ?1" : "d.owner = ?1");
  if (input.type !== undefined) {
    binds.push(input.type);
    where.push(`d.type = ?${binds.length}`);
  }
  if (input.tag !== undefined) {
    binds.push(input.tag);
    where.push(
      `EXISTS (SELECT 1 FROM document_tags t WHERE t.document_id = d.id AND t.tag = ?${binds.length})`,
    );
  }
  let sql: string;
  if (match !== undefined) {
    binds.push(match);
    sql = `SELECT ${VISIBLE_COLUMNS},
                  snippet(documents_fts, -1, '<mark>', '</mark>', '…', 12) AS snippet
             FROM documents_fts
             JOIN documents d ON d.id = documents_fts.document_id
             LEFT JOIN document_permissions p ON p.document_id = d.id AND p.grantee = ?1
            WHERE documents_fts MATCH ?${binds.length} AND ${where.join(" AND ")}
            ORDER BY bm25(documents_fts, 0.0, 10.0, 5.0, 2.0, 1.0), d.id`;
  } else {
    sql = `SELECT ${VISIBLE_COLUMNS}, NULL AS snippet
             FROM documents d
             LEFT JOIN document_permissions p ON p.document_id = d.id AND p.grantee = ?1
            WHERE ${where.join(" AND ")}
            ORDER BY d.created_at DESC, d.id DESC`;
  }
  binds.push(input.limit + 1, offset);
  sql += ` LIMIT ?${binds.length - 1} OFFSET ?${binds.length}`;
  const { results } = await store.db
    .prepare(sql)
    .bind(...binds)
    .all<VisibleRow & { snippet: string | null }>();
  const page = results.slice(0, input.limit);
  const next = offset + input.limit;
  return {
    documents: page.map((row) => ({ ...toView(toVisible(row, actor)), snippet: row.snippet })),
    nextCursor: results.length > input.limit && next <= MAX_OFFSET ? `o${next}` : null,
  };
}
