import { contentLength, ProblemError, payloadTooLarge } from "@chittyconnect/contract";
import type { EdgeBindings } from "../env.ts";
import { type DocumentConfig, documentConfig } from "./config.ts";
import { contentDisposition, etagFor, etagListMatches, parseRange } from "./http-range.ts";
import type { IndexJob } from "./indexer.ts";
import { type DocumentType, documentPrefix, versionKey } from "./keys.ts";
import { MAGIC_BYTES_NEEDED, mimeConflict } from "./magic.ts";
import { documentNotFound, lengthRequired, mimeMismatch, storageFailed } from "./problems.ts";
import { QuotaLedger } from "./quota.ts";
import { DocumentStore, ftsFields, type DocumentStore as Store, type VisibleDocument } from "./store.ts";
import { hashing, peek, withLength } from "./streams.ts";

export interface Caller {
  owner: string;
  requestId: string;
}

export interface NewDocument {
  type: DocumentType;
  name: string;
  mimeType: string;
  metadata: Record<string, unknown>;
  tags: string[];
}

function log(fields: Record<string, unknown>): void {
  console.log(JSON.stringify({ component: "documents", ...fields }));
}

/** A declared Content-Length, required because quotas are checked before any byte is stored. */
export function declaredLength(request: Request, max: number): number {
  const length = contentLength(request.headers.get("content-length"));
  if (length === undefined) throw lengthRequired();
  if (length > max) throw payloadTooLarge(max);
  return length;
}

/**
 * R2 bytes and D1 rows, kept in agreement: quota is reserved and a row exists (pending) before any
 * byte is written; the row becomes active only after R2 has the bytes; each failed step undoes the
 * earlier ones. A crash between steps leaves a pending row or an unreferenced object, which the
 * scheduled sweep removes.
 */
export class DocumentService {
  readonly store: Store;
  readonly quota: QuotaLedger;
  readonly config: DocumentConfig;
  readonly #env: EdgeBindings;

  constructor(env: EdgeBindings) {
    this.#env = env;
    this.config = documentConfig(env);
    this.store = new DocumentStore(env.DB);
    this.quota = new QuotaLedger(env.DB, this.config);
  }

  get bucket(): R2Bucket {
    return this.#env.DOCUMENTS;
  }

  /** Reserves quota and inserts the pending row in one transaction; 507 when over quota. */
  async reserveDocument(caller: Caller, id: string, doc: NewDocument, size: number): Promise<void> {
    const now = new Date().toISOString();
    const results = await this.store.db.batch([
      ...this.quota.reserveStatements(caller.owner, size, 1, now),
      this.store.db
        .prepare(
          `INSERT INTO documents (id, owner, type, name, mime_type, size, metadata, status, reserved_bytes,
                                  last_version, created_at, updated_at)
           SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?6, 1, ?8, ?8 WHERE changes() = 1`,
        )
        .bind(id, caller.owner, doc.type, doc.name, doc.mimeType, size, JSON.stringify(doc.metadata), now),
    ]);
    if (results[1]?.meta.changes !== 1) throw await this.quota.refusal(caller.owner, size);
  }

  /** Undoes reserveDocument (and any bytes already written under the document's prefix). */
  async abandonDocument(owner: string, id: string, size: number, keys: string[]): Promise<void> {
    if (keys.length > 0) await this.bucket.delete(keys);
    await this.store.db.batch([
      this.quota.releaseStatement(owner, size, 1, new Date().toISOString()),
      this.store.db.prepare("DELETE FROM documents WHERE id = ? AND status = 'pending'").bind(id),
    ]);
  }

  /** Makes a pending document readable as version 1 (its bytes are already in R2). */
  async activate(
    caller: Caller,
    id: string,
    doc: NewDocument,
    stored: { key: string; size: number; sha256: string | null },
    action: string,
  ): Promise<void> {
    const now = new Date().toISOString();
    const db = this.store.db;
    await db.batch([
      db
        .prepare(
          `UPDATE documents SET status = 'active', current_version = 1, size = ?2, sha256 = ?3, reserved_bytes = 0,
                  updated_at = ?4 WHERE id = ?1 AND status = 'pending'`,
        )
        .bind(id, stored.size, stored.sha256, now),
      db
        .prepare(
          `INSERT INTO document_versions (document_id, version, r2_key, size, sha256, mime_type, created_by, created_at)
           VALUES (?, 1, ?, ?, ?, ?, ?, ?)`,
        )
        .bind(id, stored.key, stored.size, stored.sha256, doc.mimeType, caller.owner, now),
      ...this.store.tagStatements(id, doc.tags),
      ...this.store.ftsStatements(id, ftsFields(doc.name, doc.tags, JSON.stringify(doc.metadata)), ""),
      this.store.logStatement(id, caller.owner, action, { version: 1, requestId: caller.requestId }),
    ]);
  }

  async enqueueIndex(job: IndexJob): Promise<void> {
    try {
      await this.#env.DOCUMENT_INDEX.send(job, { contentType: "json" });
    } catch (error) {
      // The document stays index_status 'pending'; the sweep re-enqueues stale pending ones.
      log({
        level: "warn",
        msg: "index enqueue failed",
        documentId: job.documentId,
        error: (error as Error).name,
      });
    }
  }

  /** Streams one upload into R2 (hash on the way, MIME sniffed first) and records it. */
  async create(
    caller: Caller,
    doc: NewDocument,
    body: ReadableStream<Uint8Array>,
    size: number,
    streamFailure: () => unknown,
  ): Promise<VisibleDocument> {
    const { head, stream } = await peek(body, MAGIC_BYTES_NEEDED);
    const conflict = mimeConflict(doc.mimeType, head);
    if (conflict) {
      await stream.cancel().catch(() => undefined);
      throw mimeMismatch(doc.mimeType, conflict);
    }
    const id = crypto.randomUUID();
    const key = versionKey(caller.owner, doc.type, id, 1);
    await this.reserveDocument(caller, id, doc, size);
    const hashed = hashing(stream);
    try {
      await this.bucket.put(key, withLength(hashed.stream, size), {
        httpMetadata: { contentType: doc.mimeType },
        customMetadata: { owner: caller.owner, documentId: id },
      });
    } catch (error) {
      await this.abandonDocument(caller.owner, id, size, [key]);
      throw streamFailure() ?? this.#storeError(error);
    }
    try {
      await this.activate(caller, id, doc, { key, size, sha256: await hashed.sha256 }, "upload");
    } catch (error) {
      await this.abandonDocument(caller.owner, id, size, [key]);
      throw this.#storeError(error);
    }
    await this.enqueueIndex({ documentId: id, owner: caller.owner, version: 1 });
    return this.store.visible(id, caller.owner, "owner");
  }

  #storeError(error: unknown): unknown {
    if (error instanceof ProblemError) return error;
    log({ level: "error", msg: "storage step failed", error: (error as Error)?.name });
    return storageFailed();
  }

  /**
   * A new version under If-Match. The version number is allocated first (so concurrent writers
   * never share a key); the commit is conditional on the version still being current.
   */
  async replaceContent(
    caller: Caller,
    id: string,
    ifMatch: string | null,
    mimeType: string,
    body: ReadableStream<Uint8Array>,
    size: number,
  ): Promise<VisibleDocument> {
    const doc = await this.store.visible(id, caller.owner, "write");
    if (ifMatch === null) {
      throw new ProblemError({
        status: 428,
        code: "precondition_required",
        title: "Precondition required",
        detail: "Send If-Match with the document's current ETag.",
      });
    }
    const expected = doc.current_version;
    if (!etagListMatches(ifMatch, etagFor(id, expected), false)) throw preconditionFailed();
    const { head, stream } = await peek(body, MAGIC_BYTES_NEEDED);
    const conflict = mimeConflict(mimeType, head);
    if (conflict) {
      await stream.cancel().catch(() => undefined);
      throw mimeMismatch(mimeType, conflict);
    }
    const db = this.store.db;
    const now = new Date().toISOString();
    // Bytes count against the owner's quota, whoever writes them.
    const reserved = await db.batch([
      ...this.quota.reserveStatements(doc.owner, size, 0, now),
      db
        .prepare(
          `UPDATE documents SET last_version = last_version + 1, reserved_bytes = reserved_bytes + ?2, updated_at = ?3
            WHERE id = ?1 AND status = 'active' AND changes() = 1 RETURNING last_version`,
        )
        .bind(id, size, now),
    ]);
    if (reserved[1]?.meta.changes !== 1) throw await this.quota.refusal(doc.owner, size);
    const version = (reserved[2]?.results[0] as { last_version: number } | undefined)?.last_version;
    if (version === undefined) {
      await this.#releaseVersion(doc.owner, id, size);
      throw documentNotFound();
    }
    const key = versionKey(doc.owner, doc.type, id, version);
    const hashed = hashing(stream);
    try {
      await this.bucket.put(key, withLength(hashed.stream, size), {
        httpMetadata: { contentType: mimeType },
        customMetadata: { owner: doc.owner, documentId: id },
      });
    } catch (error) {
      await this.#releaseVersion(doc.owner, id, size);
      throw this.#storeError(error);
    }
    const sha256 = await hashed.sha256;
    let committed: boolean;
    try {
      const results = await db.batch([
        db
          .prepare(
            `UPDATE documents SET current_version = ?2, size = ?3, sha256 = ?4, mime_type = ?5,
                    reserved_bytes = max(0, reserved_bytes - ?3), index_status = 'pending', updated_at = ?6
              WHERE id = ?1 AND status = 'active' AND current_version = ?7`,
          )
          .bind(id, version, size, sha256, mimeType, new Date().toISOString(), expected),
        db
          .prepare(
            `INSERT INTO document_versions (document_id, version, r2_key, size, sha256, mime_type, created_by, created_at)
             SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE changes() = 1`,
          )
          .bind(id, version, key, size, sha256, mimeType, caller.owner, new Date().toISOString()),
        this.store.logStatement(id, caller.owner, "write", { version, requestId: caller.requestId }),
      ]);
      committed = results[0]?.meta.changes === 1;
    } catch (error) {
      await this.bucket.delete(key);
      await this.#releaseVersion(doc.owner, id, size);
      throw this.#storeError(error);
    }
    if (!committed) {
      // Someone else's version won the race; this one never existed.
      await this.bucket.delete(key);
      await this.#releaseVersion(doc.owner, id, size);
      throw preconditionFailed();
    }
    await this.enqueueIndex({ documentId: id, owner: doc.owner, version });
    return this.store.visible(id, caller.owner, "read");
  }

  async #releaseVersion(owner: string, id: string, size: number): Promise<void> {
    const now = new Date().toISOString();
    await this.store.db.batch([
      this.quota.releaseStatement(owner, size, 0, now),
      this.store.db
        .prepare("UPDATE documents SET reserved_bytes = max(0, reserved_bytes - ?2) WHERE id = ?1")
        .bind(id, size),
    ]);
  }

  /** Serves one version of a visible document, honouring If-None-Match and a single Range. */
  async download(
    doc: VisibleDocument,
    request: Request,
    versionParam: number | undefined,
    actor: string,
    requestId: string,
  ): Promise<Response> {
    const version = versionParam ?? doc.current_version;
    const row = await this.store.version(doc.id, version);
    if (!row) {
      throw new ProblemError({
        status: 404,
        code: "version_not_found",
        title: "Not found",
        detail: `The document has no version ${version}.`,
      });
    }
    const etag = etagFor(doc.id, version);
    const headers = new Headers({
      etag,
      "accept-ranges": "bytes",
      "cache-control": "private, no-cache",
      "content-disposition": contentDisposition(doc.name),
      "x-content-type-options": "nosniff",
      "content-security-policy": "sandbox",
    });
    const ifNoneMatch = request.headers.get("if-none-match");
    if (ifNoneMatch !== null && etagListMatches(ifNoneMatch, etag, true)) {
      return new Response(null, { status: 304, headers });
    }
    const range = parseRange(request.headers.get("range"), row.size);
    if (range.kind === "unsatisfiable") {
      throw new ProblemError({
        status: 416,
        code: "range_not_satisfiable",
        title: "Range not satisfiable",
        detail: `The document is ${row.size} bytes long.`,
        headers: { "content-range": `bytes */${row.size}` },
      });
    }
    const object = await this.bucket.get(
      row.r2_key,
      range.kind === "partial" ? { range: { offset: range.offset, length: range.length } } : {},
    );
    if (!object) {
      log({ level: "error", msg: "document bytes missing", documentId: doc.id, version });
      throw new ProblemError({
        status: 503,
        code: "document_bytes_missing",
        title: "Service unavailable",
        detail: "The document's bytes are missing; the consistency sweep will reconcile it.",
      });
    }
    await this.store.logStatement(doc.id, actor, "download", { version, requestId }).run();
    headers.set("content-type", row.mime_type);
    if (range.kind === "partial") {
      headers.set("content-range", `bytes ${range.offset}-${range.offset + range.length - 1}/${row.size}`);
      headers.set("content-length", String(range.length));
      return new Response(object.body, { status: 206, headers });
    }
    headers.set("content-length", String(row.size));
    return new Response(object.body, { status: 200, headers });
  }

  /**
   * Hides the document at once (status 'deleting'), removes every object under its prefix, then
   * its rows and quota. If R2 fails midway the document stays hidden and the sweep finishes it.
   */
  async remove(caller: Caller, id: string): Promise<void> {
    const doc = await this.store.visible(id, caller.owner, "owner");
    const hidden = await this.store.db
      .prepare("UPDATE documents SET status = 'deleting', updated_at = ? WHERE id = ? AND status = 'active'")
      .bind(new Date().toISOString(), id)
      .run();
    if (hidden.meta.changes !== 1) throw documentNotFound();
    await this.purge(doc.owner, doc.type, id, caller.owner, caller.requestId);
  }

  /** Deletes a hidden document's objects, then its rows, releasing exactly the quota it held. */
  async purge(
    owner: string,
    type: DocumentType,
    id: string,
    actor: string,
    requestId: string | null,
  ): Promise<void> {
    const prefix = documentPrefix(owner, type, id);
    let cursor: string | undefined;
    do {
      const page = await this.bucket.list({ prefix, cursor, limit: 1000 });
      if (page.objects.length > 0) await this.bucket.delete(page.objects.map((o) => o.key));
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
    const db = this.store.db;
    await db.batch([
      db
        .prepare(
          `UPDATE storage_quotas
              SET bytes_used = max(0, bytes_used
                    - (SELECT coalesce(sum(size), 0) FROM document_versions WHERE document_id = ?1)
                    - (SELECT reserved_bytes FROM documents WHERE id = ?1)),
                  document_count = max(0, document_count - 1), updated_at = ?3
            WHERE owner = ?2 AND EXISTS (SELECT 1 FROM documents WHERE id = ?1)`,
        )
        .bind(id, owner, new Date().toISOString()),
      this.store.logStatement(id, actor, "delete", { requestId }),
      ...this.store.deleteStatements(id),
    ]);
  }
}

export function preconditionFailed(): ProblemError {
  return new ProblemError({
    status: 412,
    code: "precondition_failed",
    title: "Precondition failed",
    detail: "The document changed since that ETag; fetch it again and retry.",
  });
}
