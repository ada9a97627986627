import { ProblemError } from "@chittyconnect/contract";
import { etagFor } from "./http-range.ts";
import type { DocumentType } from "./keys.ts";
import { documentNotFound } from "./problems.ts";
import type { DocumentView } from "./schemas.ts";

export interface DocumentRow {
  id: string;
  owner: string;
  type: DocumentType;
  name: string;
  mime_type: string;
  size: number;
  sha256: string | null;
  current_version: number;
  last_version: number;
  metadata: string;
  status: "pending" | "active" | "deleting";
  reserved_bytes: number;
  index_status: DocumentView["indexStatus"];
  created_at: string;
  updated_at: string;
}

export interface VisibleDocument extends DocumentRow {
  access: "owner" | "read" | "write";
  tags: string[];
}

export interface VersionRow {
  document_id: string;
  version: number;
  r2_key: string;
  size: number;
  sha256: string | null;
  mime_type: string;
  created_by: string;
  created_at: string;
}

export type Need = "read" | "write" | "owner";

/** Columns of a visible document: the row, the actor's grant (`p`) and its tags. */
export const VISIBLE_COLUMNS = `d.*, p.permission AS permission,
  (SELECT group_concat(tag, ' ') FROM (SELECT tag FROM document_tags WHERE document_id = d.id ORDER BY tag)) AS tag_list`;

export type VisibleRow = DocumentRow & { permission: "read" | "write" | null; tag_list: string | null };

export function toVisible(row: VisibleRow, actor: string): VisibleDocument {
  const { permission, tag_list, ...doc } = row;
  const access = doc.owner === actor ? "owner" : (permission ?? "read");
  return { ...doc, access, tags: tag_list ? tag_list.split(" ") : [] };
}

export function toView(doc: VisibleDocument): DocumentView {
  return {
    id: doc.id,
    owner: doc.owner,
    type: doc.type,
    name: doc.name,
    mimeType: doc.mime_type,
    size: doc.size,
    sha256: doc.sha256,
    version: doc.current_version,
    etag: etagFor(doc.id, doc.current_version),
    metadata: JSON.parse(doc.metadata) as Record<string, unknown>,
    tags: doc.tags,
    indexStatus: doc.index_status,
    access: doc.access,
    createdAt: doc.created_at,
    updatedAt: doc.updated_at,
  };
}

/** What the FTS row holds besides extracted text: everything a user would search a document by. */
export function ftsFields(name: string, tags: string[], metadata: string) {
  const values = Object.values(JSON.parse(metadata) as Record<string, unknown>)
    .filter((v) => v !== null)
    .map(String);
  return { name, tags: tags.join(" "), metadata: values.join(" ") };
}

/** D1 access for documents. Every lookup is scoped to the owner or to a grant held by the actor. */
export class DocumentStore {
  readonly db: D1Database;

  constructor(db: D1Database) {
    this.db = db;
  }

  /**
   * The document if `actor` may see it; 404 otherwise (whether missing or someone else's), and 403
   * only when a visible document lacks the needed permission.
   */
  async visible(id: string, actor: string, need: Need): Promise<VisibleDocument> {
    const row = await this.db
      .prepare(
        `SELECT ${VISIBLE_COLUMNS}
           FROM documents d
           LEFT JOIN document_permissions p ON p.document_id = d.id AND p.grantee = ?2
          WHERE d.id = ?1 AND d.status = 'active' AND (d.owner = ?2 OR p.permission IS NOT NULL)`,
      )
      .bind(id, actor)
      .first<VisibleRow>();
    if (!row) throw documentNotFound();
    const doc = toVisible(row, actor);
    const access = doc.access;
    const allowed = need === "read" || access === "owner" || (need === "write" && access === "write");
    if (!allowed) {
      throw new ProblemError({
        status: 403,
        code: "document_permission_denied",
        title: "Forbidden",
        detail:
          need === "owner" ? "Only the document's owner may do this." : "This document is shared read-only.",
      });
    }
    return doc;
  }

  async version(id: string, version: number): Promise<VersionRow | null> {
    return this.db
      .prepare("SELECT * FROM document_versions WHERE document_id = ? AND version = ?")
      .bind(id, version)
      .first<VersionRow>();
  }

  async versions(id: string): Promise<VersionRow[]> {
    const { results } = await this.db
      .prepare("SELECT * FROM document_versions WHERE document_id = ? ORDER BY version DESC LIMIT 1000")
      .bind(id)
      .all<VersionRow>();
    return results;
  }

  logStatement(
    documentId: string,
    actor: string,
    action: string,
    extra: {
      version?: number | null;
      detail?: string | null;
      requestId?: string | null;
      ifChanged?: boolean;
    } = {},
  ): D1PreparedStatement {
    // ifChanged: placed after a statement in a batch, logs only when that statement changed a row.
    return this.db
      .prepare(
        `INSERT INTO document_access_log (document_id, actor, action, version, detail, request_id, at)
         SELECT ?, ?, ?, ?, ?, ?, ? ${extra.ifChanged ? "WHERE changes() = 1" : ""}`,
      )
      .bind(
        documentId,
        actor,
        action,
        extra.version ?? null,
        extra.detail ?? null,
        extra.requestId ?? null,
        new Date().toISOString(),
      );
  }

  tagStatements(id: string, tags: string[]): D1PreparedStatement[] {
    return [
      this.db.prepare("DELETE FROM document_tags WHERE document_id = ?").bind(id),
      ...tags.map((tag) =>
        this.db.prepare("INSERT INTO document_tags (document_id, tag) VALUES (?, ?)").bind(id, tag),
      ),
    ];
  }

  /** Replaces the searchable fields, keeping extracted content unless `content` is given. */
  ftsStatements(id: string, fields: ReturnType<typeof ftsFields>, content?: string): D1PreparedStatement[] {
    const keep = content === undefined;
    return [
      this.db
        .prepare(
          `INSERT INTO documents_fts (document_id, name, tags, metadata, content)
           VALUES (?1, ?2, ?3, ?4, coalesce(?5, (SELECT content FROM documents_fts WHERE document_id = ?1 LIMIT 1), ''))`,
        )
        .bind(id, fields.name, fields.tags, fields.metadata, keep ? null : content),
      // The insert above read the old content; now drop the older rows (rowid is increasing).
      this.db
        .prepare(
          "DELETE FROM documents_fts WHERE document_id = ?1 AND rowid < (SELECT max(rowid) FROM documents_fts WHERE document_id = ?1)",
        )
        .bind(id),
    ];
  }

  /** Everything about a document in D1 except its access log, which outlives it. */
  deleteStatements(id: string): D1PreparedStatement[] {
    return [
      "DELETE FROM document_versions WHERE document_id = ?1",
      "DELETE FROM document_tags WHERE document_id = ?1",
      "DELETE FROM document_permissions WHERE document_id = ?1",
      "DELETE FROM document_relationships WHERE source_id = ?1 OR target_id = ?1",
      "DELETE FROM documents_fts WHERE document_id = ?1",
      "DELETE FROM document_upload_parts WHERE upload_id IN (SELECT id FROM document_uploads WHERE document_id = ?1)",
      "DELETE FROM document_uploads WHERE document_id = ?1",
      "DELETE FROM documents WHERE id = ?1",
    ].map((sql) => this.db.prepare(sql).bind(id));
  }
}
