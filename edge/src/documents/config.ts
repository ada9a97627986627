import { z } from "zod";
import type { EdgeBindings } from "../env.ts";

const MiB = 1024 * 1024;
// R2 refuses multipart parts under 5 MiB (except the last) and over 5 GiB.
const R2_MIN_PART = 5 * MiB;

const positiveInt = (fallback: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().positive().max(max).default(fallback);

export const DocumentConfigSchema = z.object({
  DOCUMENT_MAX_UPLOAD_BYTES: positiveInt(100 * MiB),
  DOCUMENT_PART_SIZE_BYTES: positiveInt(8 * MiB, 5 * 1024 * MiB).refine((n) => n >= R2_MIN_PART, {
    message: "must be at least 5 MiB (R2's minimum part size)",
  }),
  DOCUMENT_QUOTA_BYTES: positiveInt(10 * 1024 * MiB),
  DOCUMENT_QUOTA_COUNT: positiveInt(100_000),
  DOCUMENT_PRESIGN_MAX_SECONDS: positiveInt(86_400, 7 * 86_400),
  DOCUMENT_MULTIPART_TTL_SECONDS: positiveInt(86_400),
  DOCUMENT_URL_SIGNING_KEY: z.string().min(32, "must be at least 32 bytes"),
});

export interface DocumentConfig {
  maxUploadBytes: number;
  partSize: number;
  quotaBytes: number;
  quotaCount: number;
  presignMaxSeconds: number;
  multipartTtlSeconds: number;
  urlSigningKey: string;
}

const cache = new WeakMap<object, DocumentConfig>();

/** Validated once per env object; a misconfigured deployment fails loudly, naming the variable. */
export function documentConfig(env: EdgeBindings): DocumentConfig {
  const hit = cache.get(env);
  if (hit) return hit;
  const parsed = DocumentConfigSchema.safeParse(env);
  if (!parsed.success) {
    const names = parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
    throw new Error(`invalid documents configuration: ${names.join("; ")}`);
  }
  const v = parsed.data;
  const config: DocumentConfig = {
    maxUploadBytes: v.DOCUMENT_MAX_UPLOAD_BYTES,
    partSize: v.DOCUMENT_PART_SIZE_BYTES,
    quotaBytes: v.DOCUMENT_QUOTA_BYTES,
    quotaCount: v.DOCUMENT_QUOTA_COUNT,
    presignMaxSeconds: v.DOCUMENT_PRESIGN_MAX_SECONDS,
    multipartTtlSeconds: v.DOCUMENT_MULTIPART_TTL_SECONDS,
    urlSigningKey: v.DOCUMENT_URL_SIGNING_KEY,
  };
  cache.set(env, config);
  return config;
}
