import { ProblemError } from "@chittyconnect/contract";
import type { Context } from "hono";
import { z } from "zod";
import { requireScope } from "../auth/bearer.ts";
import type { AppEnv } from "../env.ts";
import { readJsonBody } from "../json-body.ts";
import { binaryBody, jsonBody, openApiApp, problems, reply, scoped, taggedRoute } from "../openapi-parts.ts";
import { versionKey } from "./keys.ts";
import {
  DocumentSchema,
  MultipartCreatedSchema,
  MultipartCreateSchema,
  MultipartPartsSchema,
} from "./schemas.ts";
import { type Caller, DocumentService, declaredLength } from "./service.ts";
import { toView } from "./store.ts";
import { withLength } from "./streams.ts";

const NO_STORE = { "cache-control": "no-store" };
const MAX_PARTS = 10_000;

interface UploadRow {
  id: string;
  document_id: string;
  owner: string;
  r2_key: string;
  r2_upload_id: string;
  size: number;
  part_size: number;
  created_at: string;
  expires_at: string;
}

function uploadNotFound(): ProblemError {
  return new ProblemError({
    status: 404,
    code: "upload_not_found",
    title: "Not found",
    detail: "No such upload.",
  });
}

function partCount(row: Pick<UploadRow, "size" | "part_size">): number {
  return Math.ceil(row.size / row.part_size);
}

/** Every part but the last is exactly part_size (R2 requires equal parts). */
export function expectedPartSize(row: Pick<UploadRow, "size" | "part_size">, n: number): number {
  return n < partCount(row) ? row.part_size : row.size - row.part_size * (partCount(row) - 1);
}

async function ownUpload(service: DocumentService, uploadId: string, owner: string): Promise<UploadRow> {
  if (!/^[0-9a-f-]{36}$/.test(uploadId)) throw uploadNotFound();
  const row = await service.store.db
    .prepare("SELECT * FROM document_uploads WHERE id = ? AND owner = ?")
    .bind(uploadId, owner)
    .first<UploadRow>();
  if (!row) throw uploadNotFound();
  return row;
}

/** Aborts in R2 and forgets the upload, releasing its reservation; used by abort and the sweep. */
export async function abortUpload(service: DocumentService, row: UploadRow): Promise<void> {
  try {
    await service.bucket.resumeMultipartUpload(row.r2_key, row.r2_upload_id).abort();
  } catch (error) {
    // Already gone in R2 (aborted or expired there): forgetting it here is all that is left.
    console.log(
      JSON.stringify({
        component: "documents",
        msg: "multipart abort failed",
        uploadId: row.id,
        error: (error as Error)?.name,
      }),
    );
  }
  await service.store.db.batch([
    service.store.db.prepare("DELETE FROM document_upload_parts WHERE upload_id = ?").bind(row.id),
    service.store.db.prepare("DELETE FROM document_uploads WHERE id = ?").bind(row.id),
  ]);
  await service.abandonDocument(row.owner, row.document_id, row.size, []);
}

export async function expiredUploads(db: D1Database, now: string, limit: number): Promise<UploadRow[]> {
  const { results } = await db
    .prepare("SELECT * FROM document_uploads WHERE expires_at < ? ORDER BY expires_at LIMIT ?")
    .bind(now, limit)
    .all<UploadRow>();
  return results;
}

function caller(c: Context<AppEnv>): Caller {
  return { owner: c.get("auth").owner, requestId: c.get("requestId") };
}

async function listParts(service: DocumentService, row: UploadRow) {
  const { results } = await service.store.db
    .prepare(
      "SELECT part_number AS partNumber, size, etag FROM document_upload_parts WHERE upload_id = ? ORDER BY part_number",
    )
    .bind(row.id)
    .all<{ partNumber: number; size: number; etag: string }>();
  return results;
}

/** Every route here needs documents:write; the sub-app's guard enforces it, `security` documents it. */
const { security } = scoped("documents:write");
const op = taggedRoute("documents");
// Checked by ownUpload (a malformed id is the same 404 as an unknown one) and, for n, by the handler.
const UploadParams = z.object({ uploadId: z.string() });

const start = op({
  method: "post",
  path: "/",
  security,
  summary: "Start a multipart upload (reserves the whole size)",
  request: { body: jsonBody(MultipartCreateSchema) },
  responses: {
    201: reply("Upload started", MultipartCreatedSchema),
    ...problems(400, 401, 403, 413, 415, 507),
  },
});
const status = op({
  method: "get",
  path: "/{uploadId}",
  security,
  summary: "The upload's received parts (to resume)",
  request: { params: UploadParams },
  responses: { 200: reply("Parts", MultipartPartsSchema), ...problems(401, 403, 404) },
});
const putPart = op({
  method: "put",
  path: "/{uploadId}/parts/{n}",
  security,
  summary: "Upload part n (exactly partSize bytes, the last one the remainder), streamed",
  request: {
    params: UploadParams.extend({ n: z.string().meta({ description: "1 to partCount" }) }),
    body: binaryBody("application/octet-stream"),
  },
  responses: {
    200: reply(
      "Part stored",
      z.object({ partNumber: z.number().int(), size: z.number().int(), etag: z.string() }),
    ),
    ...problems(400, 401, 403, 404, 411, 413),
  },
});
const complete = op({
  method: "post",
  path: "/{uploadId}/complete",
  security,
  summary: "Finish the upload",
  request: { params: UploadParams },
  responses: { 201: reply("The stored document", DocumentSchema), ...problems(401, 403, 404, 409) },
});
const abort = op({
  method: "delete",
  path: "/{uploadId}",
  security,
  summary: "Abort the upload",
  request: { params: UploadParams },
  responses: { 204: reply("Aborted"), ...problems(401, 403, 404) },
});

/**
 * Large files in parts: create reserves the whole size against the quota (so a finished upload can
 * never be refused), parts stream straight into R2, complete makes the document readable.
 */
export const multipartRoutes = openApiApp();
// A guard on the whole sub-app, as before: also paths under it that match no route answer 403 first.
multipartRoutes.use(requireScope("documents:write"));
multipartRoutes
  .openapi(start, async (c) => {
    const service = new DocumentService(c.env);
    const input = await readJsonBody(c.req.raw, MultipartCreateSchema);
    const partSize = service.config.partSize;
    if (Math.ceil(input.size / partSize) > MAX_PARTS) {
      throw new ProblemError({
        status: 413,
        code: "payload_too_large",
        title: "Payload too large",
        detail: `At most ${MAX_PARTS} parts of ${partSize} bytes.`,
      });
    }
    const who = caller(c);
    const documentId = crypto.randomUUID();
    const uploadId = crypto.randomUUID();
    const key = versionKey(who.owner, input.type, documentId, 1);
    await service.reserveDocument(who, documentId, input, input.size);
    const expiresAt = new Date(Date.now() + service.config.multipartTtlSeconds * 1000).toISOString();
    try {
      const upload = await service.bucket.createMultipartUpload(key, {
        httpMetadata: { contentType: input.mimeType },
        customMetadata: { owner: who.owner, documentId },
      });
      await service.store.db
        .prepare(
          `INSERT INTO document_uploads (id, document_id, owner, r2_key, r2_upload_id, size, part_size, created_at, expires_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .bind(
          uploadId,
          documentId,
          who.owner,
          key,
          upload.uploadId,
          input.size,
          partSize,
          new Date().toISOString(),
          expiresAt,
        )
        .run();
    } catch (error) {
      await service.abandonDocument(who.owner, documentId, input.size, []);
      throw error;
    }
    // Tags wait beside the pending row; complete reads them back with the rest of its fields.
    await service.store.db.batch(service.store.tagStatements(documentId, input.tags));
    return c.json(
      { uploadId, documentId, partSize, partCount: Math.ceil(input.size / partSize), expiresAt },
      201,
      NO_STORE,
    );
  })
  .openapi(status, async (c) => {
    const service = new DocumentService(c.env);
    const row = await ownUpload(service, c.req.valid("param").uploadId, c.get("auth").owner);
    return c.json(
      {
        uploadId: row.id,
        documentId: row.document_id,
        size: row.size,
        partSize: row.part_size,
        partCount: partCount(row),
        parts: await listParts(service, row),
        expiresAt: row.expires_at,
      },
      200,
      NO_STORE,
    );
  })
  .openapi(putPart, async (c) => {
    const service = new DocumentService(c.env);
    const row = await ownUpload(service, c.req.valid("param").uploadId, c.get("auth").owner);
    const raw = c.req.valid("param").n;
    const n = /^[1-9][0-9]{0,4}$/.test(raw) ? Number(raw) : 0;
    if (n < 1 || n > partCount(row)) {
      throw new ProblemError({
        status: 400,
        code: "invalid_part_number",
        title: "Bad request",
        detail: `Parts are numbered 1 to ${partCount(row)}.`,
      });
    }
    const expected = expectedPartSize(row, n);
    const size = declaredLength(c.req.raw, row.part_size);
    if (size !== expected || !c.req.raw.body) {
      throw new ProblemError({
        status: 400,
        code: "part_size_mismatch",
        title: "Bad request",
        detail: `Part ${n} must be exactly ${expected} bytes.`,
      });
    }
    const upload = service.bucket.resumeMultipartUpload(row.r2_key, row.r2_upload_id);
    const part = await upload.uploadPart(n, withLength(c.req.raw.body, size));
    await service.store.db
      .prepare(
        `INSERT INTO document_upload_parts (upload_id, part_number, etag, size) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (upload_id, part_number) DO UPDATE SET etag = ?3, size = ?4`,
      )
      .bind(row.id, n, part.etag, size)
      .run();
    return c.json({ partNumber: n, size, etag: part.etag }, 200, NO_STORE);
  })
  .openapi(complete, async (c) => {
    const service = new DocumentService(c.env);
    const who = caller(c);
    const row = await ownUpload(service, c.req.valid("param").uploadId, who.owner);
    const parts = await listParts(service, row);
    const missing = [];
    for (let n = 1; n <= partCount(row); n++) if (!parts.some((p) => p.partNumber === n)) missing.push(n);
    if (missing.length > 0) {
      throw new ProblemError({
        status: 409,
        code: "upload_incomplete",
        title: "Conflict",
        detail: `Missing parts: ${missing.slice(0, 20).join(", ")}${missing.length > 20 ? ", …" : ""}.`,
      });
    }
    const pending = await service.store.db
      .prepare("SELECT type, name, mime_type, metadata FROM documents WHERE id = ? AND status = 'pending'")
      .bind(row.document_id)
      .first<{
        type: "evidence" | "cases" | "attachments";
        name: string;
        mime_type: string;
        metadata: string;
      }>();
    if (!pending) throw uploadNotFound();
    const tags = await service.store.db
      .prepare("SELECT tag FROM document_tags WHERE document_id = ? ORDER BY tag")
      .bind(row.document_id)
      .all<{ tag: string }>();
    const doc = {
      type: pending.type,
      name: pending.name,
      mimeType: pending.mime_type,
      metadata: JSON.parse(pending.metadata) as Record<string, unknown>,
      tags: tags.results.map((t) => t.tag),
    };
    await service.bucket
      .resumeMultipartUpload(row.r2_key, row.r2_upload_id)
      .complete(parts.map((p) => ({ partNumber: p.partNumber, etag: p.etag })));
    try {
      // SHA-256 of a multipart upload is computed by the indexing job, which reads the object once.
      await service.activate(
        who,
        row.document_id,
        doc,
        { key: row.r2_key, size: row.size, sha256: null },
        "upload",
      );
      await service.store.db.batch([
        service.store.db.prepare("DELETE FROM document_upload_parts WHERE upload_id = ?").bind(row.id),
        service.store.db.prepare("DELETE FROM document_uploads WHERE id = ?").bind(row.id),
      ]);
    } catch (error) {
      await service.abandonDocument(who.owner, row.document_id, row.size, [row.r2_key]);
      throw error;
    }
    await service.enqueueIndex({ documentId: row.document_id, owner: who.owner, version: 1 });
    return c.json(toView(await service.store.visible(row.document_id, who.owner, "owner")), 201, NO_STORE);
  })
  .openapi(abort, async (c) => {
    const service = new DocumentService(c.env);
    const row = await ownUpload(service, c.req.valid("param").uploadId, c.get("auth").owner);
    await abortUpload(service, row);
    return c.body(null, 204);
  });
