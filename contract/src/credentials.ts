import { z } from "zod";
import { IdempotencyKeySchema } from "./idempotency.ts";
import { OwnerIdSchema } from "./owner.ts";
import { ServiceSchema } from "./services.ts";

/** One segment of a credential path: a vault, item or field title (or id). Titles may hold spaces, `+` and quotes, never `/`. */
const PathSegment = z
  .string()
  .min(1)
  .max(128)
  .refine((s) => !s.includes("/") && !/\p{Cc}/u.test(s), "must not contain '/' or control characters")
  .refine((s) => s.trim() === s, "must not start or end with whitespace");

export interface CredentialPath {
  vault: string;
  item: string;
  field: string;
}

/** Parses `vault/item/field`; returns undefined unless it has exactly three valid segments. */
export function parseCredentialPath(text: string): CredentialPath | undefined {
  const segments = text.split("/");
  if (segments.length !== 3) return undefined;
  if (!segments.every((segment) => PathSegment.safeParse(segment).success)) return undefined;
  const [vault, item, field] = segments as [string, string, string];
  return { vault, item, field };
}

export function formatCredentialPath(path: CredentialPath): string {
  return `${path.vault}/${path.item}/${path.field}`;
}

export const CredentialPathSchema = z
  .string()
  .max(400)
  .refine((text) => parseCredentialPath(text) !== undefined, {
    message: "must be 'vault/item/field' with non-empty segments and no '/' inside a segment",
  });

/** RFC 7517 `key_ops` a public key may carry when it is used for ECDH-ES key agreement. */
const KEY_AGREEMENT_OPS = ["deriveKey", "deriveBits", "encrypt", "wrapKey"] as const;
const JWK_KEY_OPS = [...KEY_AGREEMENT_OPS, "sign", "verify", "decrypt", "unwrapKey"] as const;

/**
 * An EC public key (JWK) the value is sealed to with ECDH-ES; private parts are refused. Accepts the
 * members WebCrypto's `exportKey("jwk")` and jose's `exportJWK` produce (`key_ops`, `ext`) and the
 * optional `use`, `alg`, `kid`; they are ignored when they agree with ECDH-ES key agreement and
 * refused when they say the key is meant for something else (e.g. an ECDSA key, `key_ops: ["verify"]`).
 */
export const RecipientPublicKeySchema = z
  .object({
    kty: z.literal("EC"),
    crv: z.enum(["P-256", "P-384", "P-521"]),
    x: z.string().min(1).max(200),
    y: z.string().min(1).max(200),
    kid: z.string().max(200).optional(),
    use: z
      .literal("enc", { error: 'must be "enc" (the key encrypts); "sig" keys cannot receive a sealed value' })
      .optional(),
    alg: z
      .literal("ECDH-ES", { error: 'must be "ECDH-ES", the algorithm the value is sealed with' })
      .optional(),
    key_ops: z
      .array(z.enum(JWK_KEY_OPS))
      .max(JWK_KEY_OPS.length)
      .refine((ops) => new Set(ops).size === ops.length, "must not repeat an operation")
      .refine(
        (ops) => ops.every((op) => (KEY_AGREEMENT_OPS as readonly string[]).includes(op)),
        `may only hold ${KEY_AGREEMENT_OPS.join(", ")} (key agreement); this key is meant for something else`,
      )
      .optional(),
    ext: z.boolean().optional(),
  })
  .strict();
export type RecipientPublicKey = z.infer<typeof RecipientPublicKeySchema>;

const PurposeSchema = z.string().min(1).max(200);

export const ProvisionRequestSchema = z
  .object({
    service: ServiceSchema,
    credentialPath: CredentialPathSchema,
    purpose: PurposeSchema,
    recipientPublicKey: RecipientPublicKeySchema.optional(),
  })
  .strict();
export type ProvisionRequest = z.infer<typeof ProvisionRequestSchema>;

export const RotateRequestSchema = ProvisionRequestSchema;
export type RotateRequest = z.infer<typeof RotateRequestSchema>;

/**
 * What the edge sends the origin for a provision or rotate: the caller's request plus its
 * Idempotency-Key. The key travels inside the signed body, not in a header of its own, because the
 * signature covers the body: a hop between edge and origin cannot strip it (turning a retry into a
 * second rotation) or swap it (answering with another request's recorded result).
 */
export const OriginCredentialRequestSchema = ProvisionRequestSchema.extend({
  idempotencyKey: IdempotencyKeySchema.optional(),
}).strict();
export type OriginCredentialRequest = z.infer<typeof OriginCredentialRequestSchema>;

export const LeaseSchema = z.object({
  id: z.string(),
  issuedAt: z.iso.datetime(),
  expiresAt: z.iso.datetime(),
});
export type Lease = z.infer<typeof LeaseSchema>;

/** Exactly one of `value` (plain) or `jwe` (sealed to the recipient key, compact serialization). */
export const CredentialResponseSchema = z.union([
  z.object({
    credentialPath: z.string(),
    sealed: z.literal(false),
    value: z.string(),
    lease: LeaseSchema,
    version: z.number().int().optional(),
    /** Present on an Idempotency-Key retry: the value was read again, nothing was rotated. */
    replayed: z.literal(true).optional(),
  }),
  z.object({
    credentialPath: z.string(),
    sealed: z.literal(true),
    jwe: z.string(),
    lease: LeaseSchema,
    version: z.number().int().optional(),
    replayed: z.literal(true).optional(),
  }),
]);
export type CredentialResponse = z.infer<typeof CredentialResponseSchema>;

export const AuditActionSchema = z.enum(["provision", "rotate"]);
export const AuditOutcomeSchema = z.enum(["allowed", "denied", "failed"]);

/** One audit line as returned to its owner (chain fields included so clients can verify). */
export const AuditEntrySchema = z.object({
  seq: z.number().int().nonnegative(),
  at: z.iso.datetime(),
  requestId: z.string(),
  owner: OwnerIdSchema,
  service: z.string(),
  action: AuditActionSchema,
  credentialPath: z.string(),
  purpose: z.string(),
  outcome: AuditOutcomeSchema,
  reason: z.string().optional(),
  /** The caller's Idempotency-Key, when it sent one (a replay has reason `idempotent_replay`). */
  idempotencyKey: z.string().optional(),
  sealed: z.boolean(),
  leaseId: z.string().optional(),
  valueHmac: z.string().optional(),
  prevHash: z.string(),
  hash: z.string(),
});
export type AuditEntry = z.infer<typeof AuditEntrySchema>;

export const AuditQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  /** Return entries with seq < before (newest first paging). */
  before: z.coerce.number().int().positive().optional(),
});
export type AuditQuery = z.infer<typeof AuditQuerySchema>;

export const AuditListResponseSchema = z.object({
  entries: z.array(AuditEntrySchema),
  nextBefore: z.number().int().optional(),
});
export type AuditListResponse = z.infer<typeof AuditListResponseSchema>;

/** The origin's `/readyz` body; the edge's status page reads it. */
export const OriginReadinessSchema = z.object({
  status: z.enum(["ready", "unready"]),
  connect: z.object({
    reachable: z.boolean(),
    synced: z.boolean(),
    latencyMs: z.number().nonnegative(),
    detail: z.string().optional(),
  }),
});
export type OriginReadiness = z.infer<typeof OriginReadinessSchema>;
