import type { EdgeBindings } from "../env.ts";
import { KEY_ROOT, parseVersionKey } from "./keys.ts";
import { abortUpload, expiredUploads } from "./multipart.ts";
import { DocumentService } from "./service.ts";
import type { DocumentRow } from "./store.ts";

/** In-flight writes younger than this are left alone: their request may still be running. */
export const ORPHAN_GRACE_MS = 60 * 60 * 1000;
const REINDEX_AFTER_MS = 15 * 60 * 1000;
const BATCH = 100;
const MAX_LISTED_OBJECTS = 5_000;
const VERSIONS_CHECKED = 200;

export interface SweepReport {
  abortedUploads: number;
  stalePending: number;
  finishedDeletes: number;
  orphanObjects: number;
  missingObjects: number;
  reindexed: number;
}

/**
 * Makes R2 and D1 agree again after crashes or failed undo steps, both ways: objects nobody
 * references are deleted, rows whose bytes are gone are removed (releasing their quota), and
 * half-finished work (expired multipart uploads, pending rows, interrupted deletes) is finished.
 */
export async function sweepDocuments(env: EdgeBindings, nowMs: number): Promise<SweepReport> {
  const service = new DocumentService(env);
  const db = service.store.db;
  const now = new Date(nowMs).toISOString();
  const graceCutoff = new Date(nowMs - ORPHAN_GRACE_MS).toISOString();
  const report: SweepReport = {
    abortedUploads: 0,
    stalePending: 0,
    finishedDeletes: 0,
    orphanObjects: 0,
    missingObjects: 0,
    reindexed: 0,
  };

  for (const upload of await expiredUploads(db, now, BATCH)) {
    await abortUpload(service, upload);
    report.abortedUploads++;
  }

  const { results: stuck } = await db
    .prepare(
      `SELECT * FROM documents
        WHERE ((status = 'pending' AND id NOT IN (SELECT document_id FROM document_uploads)) OR status = 'deleting')
          AND updated_at < ? LIMIT ?`,
    )
    .bind(graceCutoff, BATCH)
    .all<DocumentRow>();
  for (const doc of stuck) {
    if (doc.status === "pending") {
      await db
        .prepare("UPDATE documents SET status = 'deleting' WHERE id = ? AND status = 'pending'")
        .bind(doc.id)
        .run();
      report.stalePending++;
    } else {
      report.finishedDeletes++;
    }
    await service.purge(doc.owner, doc.type, doc.id, "sweeper", null);
  }

  // R2 → D1: objects under the key root that no version row names.
  let cursor: string | undefined;
  let listed = 0;
  do {
    const page = await service.bucket.list({ prefix: KEY_ROOT, cursor, limit: 1000 });
    listed += page.objects.length;
    const old = page.objects.filter((object) => object.uploaded.getTime() < nowMs - ORPHAN_GRACE_MS);
    for (let i = 0; i < old.length; i += BATCH) {
      const keys = old.slice(i, i + BATCH).map((object) => object.key);
      const { results } = await db
        .prepare(`SELECT r2_key FROM document_versions WHERE r2_key IN (SELECT value FROM json_each(?))`)
        .bind(JSON.stringify(keys))
        .all<{ r2_key: string }>();
      const known = new Set(results.map((row) => row.r2_key));
      // Unparseable keys were not written by this code; they are reported, never deleted.
      const orphans = keys.filter((key) => !known.has(key) && parseVersionKey(key) !== undefined);
      const { results: inFlight } = await db
        .prepare(`SELECT r2_key FROM document_uploads WHERE r2_key IN (SELECT value FROM json_each(?))`)
        .bind(JSON.stringify(orphans))
        .all<{ r2_key: string }>();
      const busy = new Set(inFlight.map((row) => row.r2_key));
      const doomed = orphans.filter((key) => !busy.has(key));
      if (doomed.length > 0) {
        await service.bucket.delete(doomed);
        report.orphanObjects += doomed.length;
        console.log(
          JSON.stringify({ component: "documents.sweep", msg: "orphan objects deleted", keys: doomed }),
        );
      }
    }
    cursor = page.truncated && listed < MAX_LISTED_OBJECTS ? page.cursor : undefined;
  } while (cursor);

  // D1 → R2: a sample of versions per run (random, so every row is reached over time).
  const { results: sample } = await db
    .prepare(
      `SELECT v.document_id, v.version, v.r2_key, v.size, d.owner, d.type, d.current_version
         FROM document_versions v JOIN documents d ON d.id = v.document_id
        WHERE d.status = 'active' AND v.created_at < ? ORDER BY random() LIMIT ?`,
    )
    .bind(graceCutoff, VERSIONS_CHECKED)
    .all<{
      document_id: string;
      version: number;
      r2_key: string;
      size: number;
      owner: string;
      type: DocumentRow["type"];
      current_version: number;
    }>();
  for (const row of sample) {
    if (await service.bucket.head(row.r2_key)) continue;
    report.missingObjects++;
    console.log(
      JSON.stringify({
        component: "documents.sweep",
        msg: "version without bytes removed",
        documentId: row.document_id,
        version: row.version,
      }),
    );
    if (row.version === row.current_version) {
      // The readable version is gone: the document cannot be served, so it goes entirely.
      await db.prepare("UPDATE documents SET status = 'deleting' WHERE id = ?").bind(row.document_id).run();
      await service.purge(row.owner, row.type, row.document_id, "sweeper", null);
    } else {
      await db.batch([
        service.quota.releaseStatement(row.owner, row.size, 0, now),
        db
          .prepare("DELETE FROM document_versions WHERE document_id = ? AND version = ?")
          .bind(row.document_id, row.version),
        service.store.logStatement(row.document_id, "sweeper", "version_lost", { version: row.version }),
      ]);
    }
  }

  const { results: unindexed } = await db
    .prepare(
      "SELECT id, owner, current_version FROM documents WHERE status = 'active' AND index_status = 'pending' AND updated_at < ? LIMIT ?",
    )
    .bind(new Date(nowMs - REINDEX_AFTER_MS).toISOString(), BATCH)
    .all<{ id: string; owner: string; current_version: number }>();
  for (const doc of unindexed) {
    await service.enqueueIndex({ documentId: doc.id, owner: doc.owner, version: doc.current_version });
    report.reindexed++;
  }

  console.log(JSON.stringify({ component: "documents.sweep", msg: "sweep finished", ...report }));
  return report;
}

/** The documents part of the Worker's one scheduled handler. */
export async function documentsScheduled(controller: ScheduledController, env: EdgeBindings): Promise<void> {
  await sweepDocuments(env, controller.scheduledTime);
}
