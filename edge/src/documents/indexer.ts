import type { EdgeBindings } from "../env.ts";
import { isTextLike } from "./magic.ts";
import { type DocumentRow, DocumentStore, ftsFields, type VersionRow } from "./store.ts";
import { hex } from "./streams.ts";

export interface IndexJob {
  documentId: string;
  owner: string;
  version: number;
}

/** Text beyond this is not indexed (the FTS row would dwarf the metadata it sits beside). */
export const INDEX_TEXT_LIMIT = 1024 * 1024;
const QUEUE_PREFIX = "chittyconnect-document-index";

function log(fields: Record<string, unknown>): void {
  console.log(JSON.stringify({ component: "documents.indexer", ...fields }));
}

function isIndexJob(body: unknown): body is IndexJob {
  const job = body as Partial<IndexJob> | null;
  return (
    typeof job?.documentId === "string" && typeof job.owner === "string" && Number.isSafeInteger(job.version)
  );
}

/** Streams the whole object through SHA-256 (multipart uploads arrive without one). */
async function sha256Of(bucket: R2Bucket, key: string): Promise<string> {
  const object = await bucket.get(key);
  if (!object) throw new Error("object missing");
  const digest = new crypto.DigestStream("SHA-256");
  await object.body.pipeTo(digest);
  return hex(await digest.digest);
}

/** Extracts text (for text-like types) into the FTS row; throws so the queue retries. */
export async function indexDocument(env: EdgeBindings, job: IndexJob): Promise<string> {
  const store = new DocumentStore(env.DB);
  const doc = await env.DB.prepare("SELECT * FROM documents WHERE id = ? AND owner = ? AND status = 'active'")
    .bind(job.documentId, job.owner)
    .first<DocumentRow>();
  if (!doc || doc.current_version !== job.version) return "stale";
  const version = await store.version(doc.id, job.version);
  if (!version) return "stale";
  const sha256 = version.sha256 ?? (await sha256Of(env.DOCUMENTS, version.r2_key));
  let content = "";
  let status: "indexed" | "skipped" = "skipped";
  if (isTextLike(version.mime_type)) {
    content = await readText(env.DOCUMENTS, version);
    status = "indexed";
  }
  const tags = await env.DB.prepare("SELECT tag FROM document_tags WHERE document_id = ? ORDER BY tag")
    .bind(doc.id)
    .all<{ tag: string }>();
  const now = new Date().toISOString();
  await env.DB.batch([
    env.DB.prepare(
      `UPDATE documents SET index_status = ?3, sha256 = coalesce(sha256, ?4), updated_at = ?5
        WHERE id = ?1 AND current_version = ?2`,
    ).bind(doc.id, job.version, status, sha256, now),
    env.DB.prepare(
      "UPDATE document_versions SET sha256 = coalesce(sha256, ?3) WHERE document_id = ?1 AND version = ?2",
    ).bind(doc.id, job.version, sha256),
    ...store.ftsStatements(
      doc.id,
      ftsFields(
        doc.name,
        tags.results.map((t) => t.tag),
        doc.metadata,
      ),
      content,
    ),
  ]);
  return status;
}

async function readText(bucket: R2Bucket, version: VersionRow): Promise<string> {
  const object = await bucket.get(version.r2_key, { range: { offset: 0, length: INDEX_TEXT_LIMIT } });
  if (!object) throw new Error("object missing");
  // Invalid sequences become U+FFFD rather than failing: a stray byte should not block search.
  return new TextDecoder("utf-8").decode(await object.arrayBuffer());
}

export async function handleIndexBatch(batch: MessageBatch<unknown>, env: EdgeBindings): Promise<void> {
  for (const message of batch.messages) {
    if (!isIndexJob(message.body)) {
      log({ level: "warn", msg: "malformed index job dropped", messageId: message.id });
      message.ack();
      continue;
    }
    try {
      const outcome = await indexDocument(env, message.body);
      log({ level: "info", msg: "indexed", documentId: message.body.documentId, outcome });
      message.ack();
    } catch (error) {
      log({
        level: "warn",
        msg: "index attempt failed",
        documentId: message.body.documentId,
        attempts: message.attempts,
        error: (error as Error)?.name,
      });
      message.retry();
    }
  }
}

/** Jobs that exhausted their retries: the document says so instead of silently lacking text. */
export async function handleDeadLetters(batch: MessageBatch<unknown>, env: EdgeBindings): Promise<void> {
  for (const message of batch.messages) {
    if (isIndexJob(message.body)) {
      await env.DB.prepare(
        "UPDATE documents SET index_status = 'index_failed' WHERE id = ? AND owner = ? AND current_version = ?",
      )
        .bind(message.body.documentId, message.body.owner, message.body.version)
        .run();
      log({ level: "error", msg: "indexing failed for good", documentId: message.body.documentId });
    }
    message.ack();
  }
}

/** The one queue handler's dispatch: the dead-letter queue's name extends the main one's. */
export function documentQueue(batch: MessageBatch<unknown>, env: EdgeBindings): Promise<void> | undefined {
  if (batch.queue.startsWith(`${QUEUE_PREFIX}-dlq`)) return handleDeadLetters(batch, env);
  if (batch.queue.startsWith(QUEUE_PREFIX)) return handleIndexBatch(batch, env);
  return undefined;
}
