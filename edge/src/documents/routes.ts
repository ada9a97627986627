import {
  ProblemError,
  payloadTooLarge,
  unsupportedMediaType,
  validationProblem,
} from "@chittyconnect/contract";
import type { Context } from "hono";
import { z } from "zod";
import type { AppEnv } from "../env.ts";
import { readJsonBody } from "../json-body.ts";
import {
  binaryBody,
  binaryReply,
  headerParameter,
  input,
  type JsonSchema,
  jsonBody,
  notFoundHook,
  openApiApp,
  PUBLIC,
  problems,
  reply,
  scoped,
  taggedRoute,
} from "../openapi-parts.ts";
import { FORM_HEAD_LIMIT, formBoundary, readFormHead } from "./form.ts";
import { etagFor, etagListMatches } from "./http-range.ts";
import { DOCUMENT_TYPES, DocumentIdSchema } from "./keys.ts";
import { multipartRoutes } from "./multipart.ts";
import { signPresign, verifyPresign } from "./presign.ts";
import { badRequest, documentNotFound, invalidForm } from "./problems.ts";
import {
  AccessLogEntrySchema,
  AccessLogQuerySchema,
  DocumentNameSchema,
  DocumentSchema,
  GrantRequestSchema,
  GrantSchema,
  MimeTypeSchema,
  PatchDocumentSchema,
  PresignRequestSchema,
  PresignResponseSchema,
  RelationshipRequestSchema,
  RelationshipSchema,
  SearchQuerySchema,
  SearchResultSchema,
  StatsSchema,
  UploadFieldsSchema,
  VersionListSchema,
} from "./schemas.ts";
import { searchDocuments } from "./search.ts";
import { type Caller, DocumentService, declaredLength, preconditionFailed } from "./service.ts";
import { ftsFields, toView, type VisibleDocument } from "./store.ts";

const NO_STORE = { "cache-control": "no-store" };
const read = scoped("documents:read", "documents:write");
const write = scoped("documents:write");

function caller(c: Context<AppEnv>): Caller {
  return { owner: c.get("auth").owner, requestId: c.get("requestId") };
}

/** A path id that is not a server-minted UUID cannot name a document: same 404 as a missing one. */
const byId = notFoundHook(documentNotFound);
const IdParams = z.object({ id: DocumentIdSchema });

function versionParam(c: Context<AppEnv>): number | undefined {
  const raw = c.req.query("version");
  if (raw === undefined) return undefined;
  if (!/^[1-9][0-9]{0,8}$/.test(raw))
    throw badRequest("invalid_version", "version must be a positive integer.");
  return Number(raw);
}

function parseUploadFields(fields: Map<string, string>) {
  let metadata: unknown;
  const rawMetadata = fields.get("metadata");
  if (rawMetadata !== undefined && rawMetadata.trim() !== "") {
    try {
      metadata = JSON.parse(rawMetadata);
    } catch {
      throw invalidForm("The metadata field must be a JSON object.");
    }
  }
  const rawTags = fields.get("tags");
  const tags =
    rawTags === undefined || rawTags.trim() === "" ? undefined : rawTags.split(",").map((t) => t.trim());
  const parsed = UploadFieldsSchema.safeParse({
    type: fields.get("type"),
    metadata,
    tags,
    name: fields.get("name"),
  });
  if (!parsed.success) throw validationProblem(parsed.error, "Invalid upload fields");
  return parsed.data;
}

/** Browsers send a bare file name; any directory part a client adds is dropped, never used. */
function baseName(filename: string): string {
  return filename.split(/[/\\]/).pop() ?? "";
}

function created(c: Context<AppEnv>, doc: VisibleDocument, status: 200 | 201 = 201) {
  const headers: Record<string, string> = { ...NO_STORE, etag: etagFor(doc.id, doc.current_version) };
  if (status === 201) headers.location = `/api/v1/documents/${doc.id}`;
  return c.json(toView(doc), status, headers);
}

/** A DELETE and its access-log entry (written only if a row went) in one batch; 404 if none did. */
async function deleteLogged(
  service: DocumentService,
  statement: D1PreparedStatement,
  log: D1PreparedStatement,
  code: string,
  what: string,
): Promise<void> {
  const [removed] = await service.store.db.batch([statement, log]);
  if (removed?.meta.changes !== 1) {
    throw new ProblemError({ status: 404, code, title: "Not found", detail: `No such ${what}.` });
  }
}

/** The parts every documents operation shares; `tags` group them in the document and at /docs. */
const op = taggedRoute("documents");
const POSITIVE_INTEGER: JsonSchema = { type: "integer", minimum: 1 };
const ifMatch = (description: string) => headerParameter("If-Match", description);

const presignedDownload = op({
  method: "get",
  path: "/{token}",
  summary: "Download through a presigned link (no bearer token); Range supported",
  security: PUBLIC,
  request: { params: z.object({ token: z.string() }) },
  responses: {
    200: binaryReply("The bytes"),
    206: binaryReply("A range"),
    304: { description: "Not modified" },
    ...problems(403, 416),
  },
});

const upload = op({
  method: "post",
  path: "/upload",
  summary: "Upload a document (multipart/form-data: type, metadata, tags, name?, then file last), streamed",
  ...write,
  request: {
    body: {
      required: true,
      content: {
        "multipart/form-data": {
          schema: {
            type: "object",
            required: ["type", "file"],
            properties: {
              type: { type: "string", enum: [...DOCUMENT_TYPES] },
              metadata: { type: "string", description: "JSON object" },
              tags: { type: "string", description: "comma-separated" },
              name: { type: "string" },
              file: { type: "string", contentMediaType: "application/octet-stream" },
            },
          },
        },
      },
    },
  },
  responses: {
    201: reply("The stored document", DocumentSchema),
    ...problems(400, 401, 403, 411, 413, 415, 503, 507),
  },
});
const search = op({
  method: "get",
  path: "/",
  summary: "Search own documents (or those shared with the caller) with FTS5, ranked, with snippets",
  ...read,
  request: { query: SearchQuerySchema },
  responses: { 200: reply("A page of hits", SearchResultSchema), ...problems(400, 401, 403) },
});
const stats = op({
  method: "get",
  path: "/stats",
  summary: "Counts, bytes and quota use",
  ...read,
  responses: { 200: reply("Stats", StatsSchema), ...problems(401, 403) },
});
const getDocument = op({
  method: "get",
  path: "/{id}",
  summary: "Metadata",
  ...read,
  request: { params: IdParams },
  responses: { 200: reply("The document", DocumentSchema), ...problems(401, 403, 404) },
});
const patchDocument = op({
  method: "patch",
  path: "/{id}",
  summary: "Change name, metadata or tags (If-Match optional)",
  ...write,
  parameters: [ifMatch("The ETag last read; a stale one is a 412")],
  request: { params: IdParams, body: jsonBody(PatchDocumentSchema) },
  responses: { 200: reply("The document", DocumentSchema), ...problems(400, 401, 403, 404, 412, 413, 415) },
});
const deleteDocument = op({
  method: "delete",
  path: "/{id}",
  summary: "Delete every version, in R2 and D1",
  ...write,
  request: { params: IdParams },
  responses: { 204: reply("Deleted"), ...problems(401, 403, 404, 503) },
});
const download = op({
  method: "get",
  path: "/{id}/download",
  summary: "Stream a version (Range, If-None-Match, ?version=)",
  ...read,
  parameters: [
    // Read by hand: anything but a positive integer is `invalid_version`.
    { name: "version", in: "query" as const, required: false, schema: POSITIVE_INTEGER },
    headerParameter("Range", "One range, e.g. bytes=0-1023 → 206"),
    headerParameter("If-None-Match", "The ETag held → 304 when unchanged"),
  ],
  request: { params: IdParams },
  responses: {
    200: binaryReply("The bytes"),
    206: binaryReply("A range"),
    304: { description: "Not modified" },
    ...problems(400, 401, 403, 404, 416, 503),
  },
});
const replaceContent = op({
  method: "put",
  path: "/{id}/content",
  summary: "Replace the content as a new version (If-Match required), streamed",
  ...write,
  parameters: [ifMatch("Required: the current version's ETag; a stale one is a 412, none a 428")],
  request: { params: IdParams, body: binaryBody() },
  responses: {
    200: reply("The document", DocumentSchema),
    ...problems(401, 403, 404, 411, 412, 413, 415, 428, 503, 507),
  },
});
const versions = op({
  method: "get",
  path: "/{id}/versions",
  summary: "Versions, newest first",
  ...read,
  request: { params: IdParams },
  responses: { 200: reply("Versions", VersionListSchema), ...problems(401, 403, 404) },
});
const presign = op({
  method: "post",
  path: "/{id}/presign",
  summary: "A download URL that works without a token until it expires (owner only)",
  ...write,
  request: { params: IdParams, body: jsonBody(PresignRequestSchema) },
  responses: { 201: reply("The URL", PresignResponseSchema), ...problems(400, 401, 403, 404, 413, 415) },
});
const listGrants = op({
  method: "get",
  path: "/{id}/permissions",
  summary: "Grants (owner only)",
  ...read,
  request: { params: IdParams },
  responses: { 200: reply("Grants", z.object({ grants: z.array(GrantSchema) })), ...problems(401, 403, 404) },
});
const grant = op({
  method: "post",
  path: "/{id}/permissions",
  summary: "Grant read or write to another owner",
  ...write,
  request: { params: IdParams, body: jsonBody(GrantRequestSchema) },
  responses: { 201: reply("The grant", GrantSchema), ...problems(400, 401, 403, 404, 413, 415) },
});
const revokeGrant = op({
  method: "delete",
  path: "/{id}/permissions/{grantee}",
  summary: "Revoke a grant",
  ...write,
  request: { params: IdParams.extend({ grantee: z.string() }) },
  responses: { 204: reply("Revoked"), ...problems(401, 403, 404) },
});
const listLinks = op({
  method: "get",
  path: "/{id}/relationships",
  summary: "Links to and from the document",
  ...read,
  request: { params: IdParams },
  responses: {
    200: reply("Links", z.object({ relationships: z.array(RelationshipSchema) })),
    ...problems(401, 403, 404),
  },
});
const link = op({
  method: "post",
  path: "/{id}/relationships",
  summary: "Link to another visible document",
  ...write,
  request: { params: IdParams, body: jsonBody(RelationshipRequestSchema) },
  responses: { 201: reply("The link", RelationshipSchema), ...problems(400, 401, 403, 404, 413, 415) },
});
const unlink = op({
  method: "delete",
  path: "/{id}/relationships/{targetId}",
  summary: "Remove a link (?kind=)",
  ...write,
  // targetId and kind are checked together, after the source document is found (400 then).
  parameters: [
    {
      name: "kind",
      in: "query" as const,
      required: true,
      schema: input(RelationshipRequestSchema.shape.kind),
    },
  ],
  request: { params: IdParams.extend({ targetId: z.string() }) },
  responses: { 204: reply("Removed"), ...problems(400, 401, 403, 404) },
});
const accessLog = op({
  method: "get",
  path: "/{id}/access-log",
  summary: "Who read, wrote, shared or deleted it (owner only), newest first",
  ...read,
  request: { params: IdParams, query: AccessLogQuerySchema },
  responses: {
    200: reply(
      "Entries",
      z.object({ entries: z.array(AccessLogEntrySchema), nextBefore: z.number().nullable() }),
    ),
    ...problems(400, 401, 403, 404),
  },
});

/** Presigned downloads carry their own authority, so they sit outside the bearer guard. */
export const presignedRoutes = openApiApp().openapi(presignedDownload, async (c) => {
  const service = new DocumentService(c.env);
  const verdict = await verifyPresign(
    service.config.urlSigningKey,
    c.req.valid("param").token,
    Math.floor(Date.now() / 1000),
  );
  const denied = (code: string, detail: string) =>
    new ProblemError({ status: 403, code, title: "Forbidden", detail });
  if (!verdict.ok) {
    throw verdict.reason === "expired"
      ? denied("presign_expired", "This link has expired.")
      : denied("presign_invalid", "This link is not valid.");
  }
  const { claims } = verdict;
  c.set("presignedOwner", claims.owner);
  let doc: VisibleDocument;
  try {
    doc = await service.store.visible(claims.documentId, claims.owner, "owner");
  } catch {
    throw denied("presign_invalid", "This link is not valid.");
  }
  // Replacing the content revokes links to the old version, as deleting revokes all of them.
  if (doc.current_version !== claims.version) throw denied("presign_invalid", "This link is not valid.");
  return service.download(doc, c.req.raw, claims.version, `presigned:${claims.owner}`, c.get("requestId"));
});

export const documentRoutes = openApiApp()
  .route("/multipart", multipartRoutes)
  .openapi(upload, async (c) => {
    const service = new DocumentService(c.env);
    const boundary = formBoundary(c.req.header("content-type"));
    if (!boundary) {
      throw new ProblemError({
        status: 415,
        code: "unsupported_media_type",
        title: "Unsupported media type",
        detail: "Send the upload as multipart/form-data with `file` as its last part.",
      });
    }
    const length = declaredLength(c.req.raw, service.config.maxUploadBytes + FORM_HEAD_LIMIT);
    if (!c.req.raw.body) throw invalidForm("The form is empty.");
    const form = await readFormHead(c.req.raw.body, boundary, length);
    if (form.fileLength > service.config.maxUploadBytes) {
      await form.fileBody.cancel();
      throw payloadTooLarge(service.config.maxUploadBytes);
    }
    const fields = parseUploadFields(form.fields);
    const name = DocumentNameSchema.safeParse(fields.name ?? baseName(form.file.filename));
    const mimeType = MimeTypeSchema.safeParse(form.file.contentType);
    if (!name.success || !mimeType.success) {
      await form.fileBody.cancel();
      throw invalidForm("The file needs a plain name and a type/subtype Content-Type.");
    }
    const doc = await service.create(
      caller(c),
      {
        type: fields.type,
        name: name.data,
        mimeType: mimeType.data,
        metadata: fields.metadata,
        tags: fields.tags,
      },
      form.fileBody,
      form.fileLength,
      form.failure,
    );
    return created(c, doc);
  })
  .openapi(search, async (c) => {
    const input = c.req.valid("query");
    const result = await searchDocuments(new DocumentService(c.env).store, c.get("auth").owner, {
      ...input,
      sharedWithMe: input.sharedWithMe === "true",
    });
    return c.json(result, 200, NO_STORE);
  })
  .openapi(stats, async (c) => {
    const service = new DocumentService(c.env);
    const owner = c.get("auth").owner;
    const [byType, versions, quota] = await Promise.all([
      service.store.db
        .prepare(
          "SELECT type, count(*) AS count, coalesce(sum(size), 0) AS bytes FROM documents WHERE owner = ? AND status = 'active' GROUP BY type",
        )
        .bind(owner)
        .all<{ type: string; count: number; bytes: number }>(),
      service.store.db
        .prepare(
          `SELECT coalesce(sum(v.size), 0) AS bytes FROM document_versions v
             JOIN documents d ON d.id = v.document_id WHERE d.owner = ? AND d.status = 'active'`,
        )
        .bind(owner)
        .first<{ bytes: number }>(),
      service.quota.usage(owner),
    ]);
    return c.json(
      {
        documents: byType.results.reduce((n, row) => n + row.count, 0),
        byType: Object.fromEntries(
          byType.results.map((row) => [row.type, { count: row.count, bytes: row.bytes }]),
        ),
        totalBytes: versions?.bytes ?? 0,
        quota,
      },
      200,
      NO_STORE,
    );
  })
  .openapi(
    getDocument,
    async (c) => {
      const service = new DocumentService(c.env);
      const doc = await service.store.visible(c.req.valid("param").id, c.get("auth").owner, "read");
      await service.store
        .logStatement(doc.id, doc.access === "owner" ? doc.owner : c.get("auth").owner, "read", {
          requestId: c.get("requestId"),
        })
        .run();
      return c.json(toView(doc), 200, { ...NO_STORE, etag: etagFor(doc.id, doc.current_version) });
    },
    byId,
  )
  .openapi(
    patchDocument,
    async (c) => {
      const service = new DocumentService(c.env);
      const id = c.req.valid("param").id;
      const actor = c.get("auth").owner;
      const doc = await service.store.visible(id, actor, "write");
      const _POSITIVE_INTEGER: JsonSchema = { type: "integer", minimum: 1 };
      const ifMatch = c.req.header("if-match");
      if (ifMatch !== undefined && !etagListMatches(ifMatch, etagFor(id, doc.current_version), false)) {
        throw preconditionFailed();
      }
      const patch = await readJsonBody(c.req.raw, PatchDocumentSchema);
      const name = patch.name ?? doc.name;
      const metadata = patch.metadata === undefined ? doc.metadata : JSON.stringify(patch.metadata);
      const tags = patch.tags ?? doc.tags;
      const db = service.store.db;
      await db.batch([
        db
          .prepare(
            "UPDATE documents SET name = ?, metadata = ?, updated_at = ? WHERE id = ? AND status = 'active'",
          )
          .bind(name, metadata, new Date().toISOString(), id),
        ...(patch.tags === undefined ? [] : service.store.tagStatements(id, tags)),
        ...service.store.ftsStatements(id, ftsFields(name, tags, metadata)),
        service.store.logStatement(id, actor, "update", {
          detail: Object.keys(patch).sort().join(","),
          requestId: c.get("requestId"),
        }),
      ]);
      return created(c, await service.store.visible(id, actor, "read"), 200);
    },
    byId,
  )
  .openapi(
    deleteDocument,
    async (c) => {
      await new DocumentService(c.env).remove(caller(c), c.req.valid("param").id);
      return c.body(null, 204);
    },
    byId,
  )
  .openapi(
    download,
    async (c) => {
      const service = new DocumentService(c.env);
      const actor = c.get("auth").owner;
      const doc = await service.store.visible(c.req.valid("param").id, actor, "read");
      return service.download(doc, c.req.raw, versionParam(c), actor, c.get("requestId"));
    },
    byId,
  )
  .openapi(
    replaceContent,
    async (c) => {
      const service = new DocumentService(c.env);
      const id = c.req.valid("param").id;
      const size = declaredLength(c.req.raw, service.config.maxUploadBytes);
      const mimeType = MimeTypeSchema.safeParse(c.req.header("content-type") ?? "application/octet-stream");
      if (!mimeType.success) throw unsupportedMediaType();
      const doc = await service.replaceContent(
        caller(c),
        id,
        c.req.header("if-match") ?? null,
        mimeType.data,
        c.req.raw.body ?? new ReadableStream({ start: (controller) => controller.close() }),
        size,
      );
      return created(c, doc, 200);
    },
    byId,
  )
  .openapi(
    versions,
    async (c) => {
      const service = new DocumentService(c.env);
      const doc = await service.store.visible(c.req.valid("param").id, c.get("auth").owner, "read");
      const versions = await service.store.versions(doc.id);
      return c.json(
        {
          versions: versions.map((v) => ({
            version: v.version,
            size: v.size,
            sha256: v.sha256,
            mimeType: v.mime_type,
            etag: etagFor(doc.id, v.version),
            createdBy: v.created_by,
            createdAt: v.created_at,
          })),
        },
        200,
        NO_STORE,
      );
    },
    byId,
  )
  .openapi(
    presign,
    async (c) => {
      const service = new DocumentService(c.env);
      const doc = await service.store.visible(c.req.valid("param").id, c.get("auth").owner, "owner");
      const input = await readJsonBody(c.req.raw, PresignRequestSchema);
      if (input.expiresIn > service.config.presignMaxSeconds) {
        throw badRequest(
          "presign_lifetime_too_long",
          `expiresIn must be at most ${service.config.presignMaxSeconds} seconds.`,
        );
      }
      const expiresAt = Math.floor(Date.now() / 1000) + input.expiresIn;
      const token = await signPresign(service.config.urlSigningKey, {
        owner: doc.owner,
        documentId: doc.id,
        version: doc.current_version,
        expiresAt,
      });
      await service.store
        .logStatement(doc.id, doc.owner, "presign", {
          version: doc.current_version,
          detail: `expiresAt=${expiresAt}`,
          requestId: c.get("requestId"),
        })
        .run();
      const url = new URL(`/api/v1/documents/presigned/${token}`, c.req.url).toString();
      return c.json(
        { url, expiresAt: new Date(expiresAt * 1000).toISOString(), version: doc.current_version },
        201,
        NO_STORE,
      );
    },
    byId,
  )
  .openapi(
    listGrants,
    async (c) => {
      const service = new DocumentService(c.env);
      const doc = await service.store.visible(c.req.valid("param").id, c.get("auth").owner, "owner");
      const { results } = await service.store.db
        .prepare(
          "SELECT grantee, permission, created_at AS createdAt FROM document_permissions WHERE document_id = ? ORDER BY grantee",
        )
        .bind(doc.id)
        .all();
      return c.json({ grants: results }, 200, NO_STORE);
    },
    byId,
  )
  .openapi(
    grant,
    async (c) => {
      const service = new DocumentService(c.env);
      const actor = c.get("auth").owner;
      const doc = await service.store.visible(c.req.valid("param").id, actor, "owner");
      const grant = await readJsonBody(c.req.raw, GrantRequestSchema);
      if (grant.grantee === doc.owner)
        throw badRequest("cannot_share_with_owner", "The owner already has full access.");
      const now = new Date().toISOString();
      await service.store.db.batch([
        service.store.db
          .prepare(
            `INSERT INTO document_permissions (document_id, grantee, permission, granted_by, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
           ON CONFLICT (document_id, grantee) DO UPDATE SET permission = ?3, granted_by = ?4, created_at = ?5`,
          )
          .bind(doc.id, grant.grantee, grant.permission, actor, now),
        service.store.logStatement(doc.id, actor, "share", {
          detail: `${grant.grantee}:${grant.permission}`,
          requestId: c.get("requestId"),
        }),
      ]);
      return c.json({ grantee: grant.grantee, permission: grant.permission, createdAt: now }, 201, NO_STORE);
    },
    byId,
  )
  .openapi(
    revokeGrant,
    async (c) => {
      const service = new DocumentService(c.env);
      const actor = c.get("auth").owner;
      const doc = await service.store.visible(c.req.valid("param").id, actor, "owner");
      const { grantee } = c.req.valid("param");
      await deleteLogged(
        service,
        service.store.db
          .prepare("DELETE FROM document_permissions WHERE document_id = ? AND grantee = ?")
          .bind(doc.id, grantee),
        service.store.logStatement(doc.id, actor, "unshare", {
          detail: grantee,
          requestId: c.get("requestId"),
          ifChanged: true,
        }),
        "grant_not_found",
        "grant",
      );
      return c.body(null, 204);
    },
    byId,
  )
  .openapi(
    listLinks,
    async (c) => {
      const service = new DocumentService(c.env);
      const actor = c.get("auth").owner;
      const doc = await service.store.visible(c.req.valid("param").id, actor, "read");
      // Only links whose other end the caller may also see: ids of invisible documents stay hidden.
      const { results } = await service.store.db
        .prepare(
          `SELECT r.source_id AS sourceId, r.target_id AS targetId, r.kind, r.created_at AS createdAt
           FROM document_relationships r
           JOIN documents o ON o.id = CASE WHEN r.source_id = ?1 THEN r.target_id ELSE r.source_id END
          WHERE (r.source_id = ?1 OR r.target_id = ?1) AND o.status = 'active'
            AND (o.owner = ?2 OR EXISTS (SELECT 1 FROM document_permissions p WHERE p.document_id = o.id AND p.grantee = ?2))
          ORDER BY r.created_at LIMIT 500`,
        )
        .bind(doc.id, actor)
        .all();
      return c.json({ relationships: results }, 200, NO_STORE);
    },
    byId,
  )
  .openapi(
    link,
    async (c) => {
      const service = new DocumentService(c.env);
      const actor = c.get("auth").owner;
      const source = await service.store.visible(c.req.valid("param").id, actor, "write");
      const input = await readJsonBody(c.req.raw, RelationshipRequestSchema);
      if (input.targetId === source.id)
        throw badRequest("self_relationship", "A document cannot relate to itself.");
      await service.store.visible(input.targetId, actor, "read");
      const now = new Date().toISOString();
      await service.store.db.batch([
        service.store.db
          .prepare(
            "INSERT OR IGNORE INTO document_relationships (source_id, target_id, kind, created_by, created_at) VALUES (?, ?, ?, ?, ?)",
          )
          .bind(source.id, input.targetId, input.kind, actor, now),
        service.store.logStatement(source.id, actor, "relate", {
          detail: `${input.kind}:${input.targetId}`,
          requestId: c.get("requestId"),
        }),
      ]);
      return c.json(
        { sourceId: source.id, targetId: input.targetId, kind: input.kind, createdAt: now },
        201,
        NO_STORE,
      );
    },
    byId,
  )
  .openapi(
    unlink,
    async (c) => {
      const service = new DocumentService(c.env);
      const actor = c.get("auth").owner;
      const source = await service.store.visible(c.req.valid("param").id, actor, "write");
      const input = RelationshipRequestSchema.safeParse({
        targetId: c.req.valid("param").targetId,
        kind: c.req.query("kind"),
      });
      if (!input.success) throw validationProblem(input.error);
      await deleteLogged(
        service,
        service.store.db
          .prepare("DELETE FROM document_relationships WHERE source_id = ? AND target_id = ? AND kind = ?")
          .bind(source.id, input.data.targetId, input.data.kind),
        service.store.logStatement(source.id, actor, "unrelate", {
          detail: `${input.data.kind}:${input.data.targetId}`,
          requestId: c.get("requestId"),
          ifChanged: true,
        }),
        "relationship_not_found",
        "relationship",
      );
      return c.body(null, 204);
    },
    byId,
  )
  .openapi(
    accessLog,
    async (c) => {
      const service = new DocumentService(c.env);
      const doc = await service.store.visible(c.req.valid("param").id, c.get("auth").owner, "owner");
      const input = c.req.valid("query");
      const { results } = await service.store.db
        .prepare(
          `SELECT seq, actor, action, version, detail, request_id AS requestId, at FROM document_access_log
          WHERE document_id = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3`,
        )
        .bind(doc.id, input.before ?? Number.MAX_SAFE_INTEGER, input.limit + 1)
        .all<{ seq: number }>();
      const page = results.slice(0, input.limit);
      const nextBefore = results.length > input.limit ? (page.at(-1)?.seq ?? null) : null;
      return c.json({ entries: page, nextBefore }, 200, NO_STORE);
    },
    byId,
  );
