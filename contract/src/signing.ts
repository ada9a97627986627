import { fromBase64Url, randomBase64Url, sha256Hex, toBase64Url, utf8 } from "./encoding.ts";
import { Headers } from "./headers.ts";
import { OwnerIdSchema } from "./owner.ts";

/**
 * Edge → origin request signing (scheme "v1").
 *
 * The edge signs every call with a shared secret; the origin verifies it even when Cloudflare
 * Access already vouched for the caller, because a Workers VPC binding carries no Access JWT.
 *
 * String to sign (lines joined by "\n"):
 *   CHITTY-HMAC-SHA256-V1, METHOD, path-with-query, timestamp (unix seconds), nonce,
 *   hex SHA-256 of the body, owner
 * Signature: base64url(HMAC-SHA256(key, string)). The key id lets the origin accept the current
 * and the previous key during a rotation.
 */
export const SIGNING_SCHEME = "CHITTY-HMAC-SHA256-V1";
export const DEFAULT_WINDOW_SECONDS = 60;
export const MIN_KEY_BYTES = 32;

export interface SignedParts {
  method: string;
  /** Path plus query string exactly as sent, e.g. `/v1/audit?limit=10`. */
  pathWithQuery: string;
  timestamp: number;
  nonce: string;
  bodySha256: string;
  owner: string;
}

/** WebCrypto's key type, spelled so it resolves on workerd, in browsers and under @types/node alike. */
type HmacKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;

export interface SigningKey {
  id: string;
  key: HmacKey;
}

export function canonicalString(parts: SignedParts): string {
  return [
    SIGNING_SCHEME,
    parts.method.toUpperCase(),
    parts.pathWithQuery,
    String(parts.timestamp),
    parts.nonce,
    parts.bodySha256,
    parts.owner,
  ].join("\n");
}

/** Key id = first 16 hex chars of SHA-256(secret): identifies a key without revealing it. */
export async function importSigningKey(secret: string): Promise<SigningKey> {
  const raw = utf8(secret);
  if (raw.byteLength < MIN_KEY_BYTES) {
    throw new Error(`signing key must be at least ${MIN_KEY_BYTES} bytes`);
  }
  const key = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
    "verify",
  ]);
  return { id: (await sha256Hex(raw)).slice(0, 16), key };
}

export interface SignRequestInput {
  method: string;
  url: string | URL;
  body?: Uint8Array<ArrayBuffer> | string;
  owner: string;
  key: SigningKey;
  /** Injected by tests; defaults to now and a fresh random nonce. */
  now?: number;
  nonce?: string;
}

/** Returns the headers to add to the request. */
export async function signRequest(input: SignRequestInput): Promise<Record<string, string>> {
  const url = typeof input.url === "string" ? new URL(input.url) : input.url;
  const body = input.body ?? "";
  const parts: SignedParts = {
    method: input.method,
    pathWithQuery: url.pathname + url.search,
    timestamp: Math.floor((input.now ?? Date.now()) / 1000),
    nonce: input.nonce ?? randomBase64Url(18),
    bodySha256: await sha256Hex(body),
    owner: input.owner,
  };
  const signature = await crypto.subtle.sign("HMAC", input.key.key, utf8(canonicalString(parts)));
  return {
    [Headers.owner]: parts.owner,
    [Headers.timestamp]: String(parts.timestamp),
    [Headers.nonce]: parts.nonce,
    [Headers.contentSha256]: parts.bodySha256,
    [Headers.keyId]: input.key.id,
    [Headers.signature]: toBase64Url(signature),
  };
}

/** Remembers nonces until they fall out of the time window. */
export interface NonceStore {
  /** True when the nonce was unseen (and is now remembered); false on a replay. */
  remember(nonce: string, expiresAtMs: number, nowMs: number): boolean | Promise<boolean>;
}

/**
 * Bounded in-memory nonce store. When full it refuses new nonces rather than forgetting live ones,
 * because forgetting would reopen the replay window; the caller turns that into a 503.
 */
export class MemoryNonceStore implements NonceStore {
  readonly #seen = new Map<string, number>();
  readonly #maxEntries: number;

  constructor(maxEntries = 100_000) {
    this.#maxEntries = maxEntries;
  }

  get size(): number {
    return this.#seen.size;
  }

  remember(nonce: string, expiresAtMs: number, now = Date.now()): boolean {
    const existing = this.#seen.get(nonce);
    if (existing !== undefined && existing > now) return false;
    if (this.#seen.size >= this.#maxEntries) this.#prune(now);
    if (this.#seen.size >= this.#maxEntries) throw new NonceStoreFullError();
    this.#seen.set(nonce, expiresAtMs);
    return true;
  }

  #prune(now: number): void {
    for (const [nonce, expiresAt] of this.#seen) {
      if (expiresAt <= now) this.#seen.delete(nonce);
    }
  }
}

export class NonceStoreFullError extends Error {
  override readonly name = "NonceStoreFullError";
}

export type VerifyFailure =
  | "missing_headers"
  | "malformed_headers"
  | "unknown_key"
  | "body_mismatch"
  | "stale_timestamp"
  | "bad_signature"
  | "replayed_nonce";

export type VerifyResult = { ok: true; owner: string; keyId: string } | { ok: false; reason: VerifyFailure };

export interface VerifyRequestInput {
  method: string;
  url: string | URL;
  headers: { get(name: string): string | null };
  body: Uint8Array<ArrayBuffer> | string;
  keys: readonly SigningKey[];
  nonces: NonceStore;
  windowSeconds?: number;
  now?: number;
}

const NONCE_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;
const TIMESTAMP_PATTERN = /^\d{1,12}$/;
const HEX_SHA256 = /^[0-9a-f]{64}$/;

/**
 * Checks a signed request. The nonce is remembered only after the signature verified, so an
 * attacker cannot burn nonces with forged requests. The reason is for logs; callers should answer
 * clients with one generic message.
 */
export async function verifyRequest(input: VerifyRequestInput): Promise<VerifyResult> {
  const get = (name: string) => input.headers.get(name);
  const owner = get(Headers.owner);
  const timestampText = get(Headers.timestamp);
  const nonce = get(Headers.nonce);
  const bodySha256 = get(Headers.contentSha256);
  const keyId = get(Headers.keyId);
  const signatureText = get(Headers.signature);
  if (!owner || !timestampText || !nonce || !bodySha256 || !keyId || !signatureText) {
    return { ok: false, reason: "missing_headers" };
  }
  const signature = fromBase64Url(signatureText);
  if (
    !OwnerIdSchema.safeParse(owner).success ||
    !TIMESTAMP_PATTERN.test(timestampText) ||
    !NONCE_PATTERN.test(nonce) ||
    !HEX_SHA256.test(bodySha256) ||
    signature === undefined ||
    signature.byteLength !== 32
  ) {
    return { ok: false, reason: "malformed_headers" };
  }
  const key = input.keys.find((candidate) => candidate.id === keyId);
  if (!key) return { ok: false, reason: "unknown_key" };

  const timestamp = Number(timestampText);
  const now = input.now ?? Date.now();
  const windowSeconds = input.windowSeconds ?? DEFAULT_WINDOW_SECONDS;
  if (Math.abs(now / 1000 - timestamp) > windowSeconds) return { ok: false, reason: "stale_timestamp" };

  const url = typeof input.url === "string" ? new URL(input.url) : input.url;
  const parts: SignedParts = {
    method: input.method,
    pathWithQuery: url.pathname + url.search,
    timestamp,
    nonce,
    bodySha256,
    owner,
  };
  // subtle.verify compares in constant time; comparing our own HMAC with === would not.
  const valid = await crypto.subtle.verify("HMAC", key.key, signature, utf8(canonicalString(parts)));
  if (!valid) return { ok: false, reason: "bad_signature" };
  if ((await sha256Hex(input.body)) !== bodySha256) return { ok: false, reason: "body_mismatch" };

  const fresh = await input.nonces.remember(nonce, (timestamp + windowSeconds) * 1000 + 1000, now);
  if (!fresh) return { ok: false, reason: "replayed_nonce" };
  return { ok: true, owner, keyId: key.id };
}
