import { OwnerIdSchema } from "@chittyconnect/contract";
import { z } from "zod";

export const DOCUMENT_TYPES = ["evidence", "cases", "attachments"] as const;
export const DocumentTypeSchema = z.enum(DOCUMENT_TYPES);
export type DocumentType = z.infer<typeof DocumentTypeSchema>;

/** Ids are minted by the server (UUIDs); anything else in a path is refused before it nears a key. */
export const DocumentIdSchema = z.uuid();

export const KEY_ROOT = "chittyid/";

/**
 * `chittyid/{owner}/{type}/{documentId}/v{version}`. Every part is validated against a closed
 * alphabet (no '/', '.', '%'), so no input can leave its owner's prefix.
 */
export function documentPrefix(owner: string, type: DocumentType, documentId: string): string {
  OwnerIdSchema.parse(owner);
  DocumentTypeSchema.parse(type);
  DocumentIdSchema.parse(documentId);
  return `${KEY_ROOT}${owner}/${type}/${documentId}/`;
}

export function versionKey(owner: string, type: DocumentType, documentId: string, version: number): string {
  if (!Number.isSafeInteger(version) || version < 1) throw new Error("version must be a positive integer");
  return `${documentPrefix(owner, type, documentId)}v${version}`;
}

export interface ParsedKey {
  owner: string;
  type: DocumentType;
  documentId: string;
  version: number;
}

/** The inverse of versionKey; undefined for anything the builder could not have produced. */
export function parseVersionKey(key: string): ParsedKey | undefined {
  const match = /^chittyid\/([^/]+)\/([^/]+)\/([^/]+)\/v([1-9][0-9]{0,14})$/.exec(key);
  if (!match) return undefined;
  const [, owner = "", type = "", documentId = "", version = ""] = match;
  if (!OwnerIdSchema.safeParse(owner).success) return undefined;
  const parsedType = DocumentTypeSchema.safeParse(type);
  if (!parsedType.success || !DocumentIdSchema.safeParse(documentId).success) return undefined;
  return { owner, type: parsedType.data, documentId, version: Number(version) };
}
