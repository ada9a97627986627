import { OwnerIdSchema } from "@chittyconnect/contract";
import { z } from "zod";
import { DocumentIdSchema, DocumentTypeSchema } from "./keys.ts";
import { MimeTypeSchemaPattern } from "./magic.ts";

export const MAX_TAGS = 20;
export const MAX_METADATA_BYTES = 8 * 1024;

export const TagSchema = z
  .string()
  .min(1)
  .max(40)
  .regex(/^[a-z0-9][a-z0-9_.:-]*$/, "lower-case letters, digits and _ . : -");
export const TagsSchema = z
  .array(TagSchema)
  .max(MAX_TAGS)
  .refine((tags) => new Set(tags).size === tags.length, "tags must not repeat");

export const MetadataSchema = z
  .record(z.string().max(64), z.union([z.string().max(1024), z.number(), z.boolean(), z.null()]))
  .refine((m) => Object.keys(m).length <= 50, "at most 50 keys")
  .refine(
    (m) => JSON.stringify(m).length <= MAX_METADATA_BYTES,
    `at most ${MAX_METADATA_BYTES} bytes as JSON`,
  );

/** File names are labels only (never part of a key); control characters and separators are refused. */
export const DocumentNameSchema = z
  .string()
  .min(1)
  .max(255)
  .refine((name) => ![...name].some(isForbiddenNameChar), "no control characters, '/' or '\\'");

function isForbiddenNameChar(char: string): boolean {
  const code = char.charCodeAt(0);
  return code < 0x20 || code === 0x7f || char === "/" || char === "\\";
}

export const MimeTypeSchema = z
  .string()
  .toLowerCase()
  .regex(MimeTypeSchemaPattern, "a type/subtype media type");

export const IndexStatusSchema = z.enum(["pending", "indexed", "skipped", "index_failed"]);

export const DocumentSchema = z.object({
  id: DocumentIdSchema,
  owner: OwnerIdSchema,
  type: DocumentTypeSchema,
  name: z.string(),
  mimeType: z.string(),
  size: z.number().int().nonnegative(),
  sha256: z.string().nullable(),
  version: z.number().int().positive(),
  etag: z.string(),
  metadata: z.record(z.string(), z.unknown()),
  tags: z.array(z.string()),
  indexStatus: IndexStatusSchema,
  access: z.enum(["owner", "read", "write"]),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type DocumentView = z.infer<typeof DocumentSchema>;

export const UploadFieldsSchema = z.object({
  type: DocumentTypeSchema,
  metadata: MetadataSchema.default({}),
  tags: TagsSchema.default([]),
  name: DocumentNameSchema.optional(),
});

export const PatchDocumentSchema = z
  .object({
    name: DocumentNameSchema.optional(),
    metadata: MetadataSchema.optional(),
    tags: TagsSchema.optional(),
  })
  .strict()
  .refine(
    (p) => p.name !== undefined || p.metadata !== undefined || p.tags !== undefined,
    "nothing to change",
  );

export const VersionSchema = z.object({
  version: z.number().int().positive(),
  size: z.number().int().nonnegative(),
  sha256: z.string().nullable(),
  mimeType: z.string(),
  etag: z.string(),
  createdBy: z.string(),
  createdAt: z.string(),
});
export const VersionListSchema = z.object({ versions: z.array(VersionSchema) });

export const SearchQuerySchema = z.object({
  q: z.string().max(200).optional(),
  type: DocumentTypeSchema.optional(),
  tag: TagSchema.optional(),
  sharedWithMe: z.enum(["true", "false"]).optional(),
  cursor: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});

export const SearchResultSchema = z.object({
  documents: z.array(DocumentSchema.extend({ snippet: z.string().nullable() })),
  nextCursor: z.string().nullable(),
});

export const StatsSchema = z.object({
  documents: z.number().int(),
  byType: z.record(z.string(), z.object({ count: z.number().int(), bytes: z.number().int() })),
  totalBytes: z.number().int(),
  quota: z.object({
    bytesUsed: z.number().int(),
    bytesLimit: z.number().int(),
    countUsed: z.number().int(),
    countLimit: z.number().int(),
  }),
});

export const PresignRequestSchema = z.object({
  expiresIn: z.number().int().min(1),
  version: z.number().int().positive().optional(),
});
export const PresignResponseSchema = z.object({
  url: z.string(),
  expiresAt: z.string(),
  version: z.number(),
});

export const PermissionSchema = z.enum(["read", "write"]);
export const GrantRequestSchema = z.object({ grantee: OwnerIdSchema, permission: PermissionSchema });
export const GrantSchema = z.object({
  grantee: z.string(),
  permission: PermissionSchema,
  createdAt: z.string(),
});

export const RELATIONSHIP_KINDS = ["relatesTo", "supersedes", "references", "attachmentOf"] as const;
export const RelationshipRequestSchema = z.object({
  targetId: DocumentIdSchema,
  kind: z.enum(RELATIONSHIP_KINDS),
});
export const RelationshipSchema = z.object({
  sourceId: z.string(),
  targetId: z.string(),
  kind: z.enum(RELATIONSHIP_KINDS),
  createdAt: z.string(),
});

export const AccessLogEntrySchema = z.object({
  seq: z.number().int(),
  actor: z.string(),
  action: z.string(),
  version: z.number().int().nullable(),
  detail: z.string().nullable(),
  requestId: z.string().nullable(),
  at: z.string(),
});
export const AccessLogQuerySchema = z.object({
  before: z.coerce.number().int().positive().optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

export const MultipartCreateSchema = z.object({
  name: DocumentNameSchema,
  type: DocumentTypeSchema,
  mimeType: MimeTypeSchema,
  size: z
    .number()
    .int()
    .positive()
    .max(5 * 1024 ** 4),
  metadata: MetadataSchema.default({}),
  tags: TagsSchema.default([]),
});
export const MultipartCreatedSchema = z.object({
  uploadId: z.string(),
  documentId: z.string(),
  partSize: z.number().int(),
  partCount: z.number().int(),
  expiresAt: z.string(),
});
export const MultipartPartsSchema = z.object({
  uploadId: z.string(),
  documentId: z.string(),
  size: z.number().int(),
  partSize: z.number().int(),
  partCount: z.number().int(),
  parts: z.array(z.object({ partNumber: z.number().int(), size: z.number().int(), etag: z.string() })),
  expiresAt: z.string(),
});
