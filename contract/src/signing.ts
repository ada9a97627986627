import { fromBase64Url, randomBase64Url, sha256Hex, toBase64Url, utf8 } from "./encoding.ts";
import { Headers } from "./headers.ts";
import { OwnerIdSchema } from "./owner.ts";
import { formatServicesHeader, parseServicesHeader } from "./services.ts";

/**
 * Edge → origin request signing (scheme "v2").
 *
 * The edge signs every call with a shared secret; the origin verifies it even when Cloudflare
 * Access already vouched for the caller, because a Workers VPC binding carries no Access JWT.
 *
 * String to sign (lines joined by "\n"):
 *   CHITTY-HMAC-SHA256-V2, METHOD, path-with-query, timestamp (unix milliseconds), nonce,
 *   hex SHA-256 of the body, owner, services
 * `services` is the token's service list exactly as sent in x-chitty-services (sorted, comma-joined;
 * an empty line when the header is absent), so the origin's policy can trust it as much as the owner.
 * Signature: base64url(HMAC-SHA256(key, string)). The key id lets the origin accept the current
 * and the previous key during a rotation.
 *
 * The Worker signs and verifies with WebCrypto (below); the origin verifies the same scheme with
 * node:crypto (origin/src/http/node-signing.ts), because WebCrypto's thread-pool round trips cost
 * it 20–80 µs a call. Both are checked against contract/test/signing-vectors.ts.
 */
export const SIGNING_SCHEME = "CHITTY-HMAC-SHA256-V2";
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
  /** The x-chitty-services header text ("" when absent). */
  services: string;
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
    parts.services,
  ].join("\n");
}

/** Key id = first 16 hex chars of SHA-256(secret): identifies a key without revealing it. */
export async function signingKeyId(raw: Uint8Array<ArrayBuffer>): Promise<string> {
  return (await sha256Hex(raw)).slice(0, 16);
}

export function signingKeyBytes(secret: string): Uint8Array<ArrayBuffer> {
  const raw = utf8(secret);
  if (raw.byteLength < MIN_KEY_BYTES) {
    throw new Error(`signing key must be at least ${MIN_KEY_BYTES} bytes`);
  }
  return raw;
}

export async function importSigningKey(secret: string): Promise<SigningKey> {
  const raw = signingKeyBytes(secret);
  const key = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
    "verify",
  ]);
  return { id: await signingKeyId(raw), key };
}

export interface SignRequestInput {
  method: string;
  url: string | URL;
  body?: Uint8Array<ArrayBuffer> | string;
  owner: string;
  /** The token's services (already normalised by TokenServicesSchema); [] when it names none. */
  services: readonly string[];
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
    timestamp: Math.floor(input.now ?? Date.now()),
    nonce: input.nonce ?? randomBase64Url(18),
    bodySha256: await sha256Hex(body),
    owner: input.owner,
    services: formatServicesHeader(input.services),
  };
  const signature = await crypto.subtle.sign("HMAC", input.key.key, utf8(canonicalString(parts)));
  return {
    [Headers.owner]: parts.owner,
    ...(parts.services === "" ? {} : { [Headers.services]: parts.services }),
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
 * In-memory nonce store for one process. Every call first forgets the nonces that have expired,
 * oldest first, so memory follows the request rate over one window rather than growing until a
 * threshold. Entries are kept in insertion order; expiries are nearly monotonic (timestamp +
 * window), so the scan stops at the first live entry. An entry that arrived late with an older
 * timestamp may outlive its expiry by up to one window: kept too long is safe, dropped early is not.
 */
export class MemoryNonceStore implements NonceStore {
  readonly #seen = new Map<string, number>();

  get size(): number {
    return this.#seen.size;
  }

  remember(nonce: string, expiresAtMs: number, now = Date.now()): boolean {
    for (const [seen, expiresAt] of this.#seen) {
      if (expiresAt > now) break;
      this.#seen.delete(seen);
    }
    const existing = this.#seen.get(nonce);
    if (existing !== undefined && existing > now) return false;
    this.#seen.delete(nonce);
    this.#seen.set(nonce, expiresAtMs);
    return true;
  }
}

/** The shared nonce store could not answer; callers turn it into a 503, never into an acceptance. */
export class NonceStoreUnavailableError extends Error {
  override readonly name = "NonceStoreUnavailableError";
}

export type VerifyFailure =
  | "missing_headers"
  | "malformed_headers"
  | "unknown_key"
  | "body_mismatch"
  | "stale_timestamp"
  | "predates_start"
  | "bad_signature"
  | "replayed_nonce";

export type VerifyResult =
  | { ok: true; owner: string; services: string[]; keyId: string }
  | { ok: false; reason: VerifyFailure };

/** What a verifier needs of a key: its id; the suite knows what else it holds. */
export interface KeyRef {
  id: string;
}

/** The two primitives the scheme needs; one implementation per runtime, one scheme. */
export interface HmacSuite<K extends KeyRef> {
  sha256Hex(data: Uint8Array<ArrayBuffer> | string): string | Promise<string>;
  /** Must compare in constant time. */
  verifyHmac(key: K, message: string, signature: Uint8Array<ArrayBuffer>): boolean | Promise<boolean>;
}

export const webCryptoSuite: HmacSuite<SigningKey> = {
  sha256Hex,
  // subtle.verify compares in constant time; comparing our own HMAC with === would not.
  verifyHmac: (key, message, signature) => crypto.subtle.verify("HMAC", key.key, signature, utf8(message)),
};

export interface VerifyRequestInput<K extends KeyRef = SigningKey> {
  method: string;
  url: string | URL;
  headers: { get(name: string): string | null };
  body: Uint8Array<ArrayBuffer> | string;
  keys: readonly K[];
  nonces: NonceStore;
  windowSeconds?: number;
  now?: number;
  /**
   * Refuse signatures dated before this (ms): a process that starts with an empty nonce store
   * cannot know which nonces its predecessor saw. Millisecond timestamps keep the refusal short.
   */
  notBeforeMs?: number;
}

const NONCE_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;
const TIMESTAMP_PATTERN = /^\d{1,15}$/;
const HEX_SHA256 = /^[0-9a-f]{64}$/;

/** Checks a signed request with WebCrypto (the Worker's runtime). */
export function verifyRequest(input: VerifyRequestInput<SigningKey>): Promise<VerifyResult> {
  return verifySignedRequest(input, webCryptoSuite);
}

/**
 * Checks a signed request. The nonce is remembered only after the signature verified, so an
 * attacker cannot burn nonces with forged requests. The reason is for logs; callers should answer
 * clients with one generic message.
 */
export async function verifySignedRequest<K extends KeyRef>(
  input: VerifyRequestInput<K>,
  suite: HmacSuite<K>,
): Promise<VerifyResult> {
  const get = (name: string) => input.headers.get(name);
  const owner = get(Headers.owner);
  const timestampText = get(Headers.timestamp);
  const nonce = get(Headers.nonce);
  const bodySha256 = get(Headers.contentSha256);
  const keyId = get(Headers.keyId);
  const signatureText = get(Headers.signature);
  const servicesText = get(Headers.services) ?? "";
  if (!owner || !timestampText || !nonce || !bodySha256 || !keyId || !signatureText) {
    return { ok: false, reason: "missing_headers" };
  }
  const signature = fromBase64Url(signatureText);
  const services = parseServicesHeader(servicesText);
  if (
    !OwnerIdSchema.safeParse(owner).success ||
    !TIMESTAMP_PATTERN.test(timestampText) ||
    !NONCE_PATTERN.test(nonce) ||
    !HEX_SHA256.test(bodySha256) ||
    services === undefined ||
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
  if (Math.abs(now - timestamp) > windowSeconds * 1000) return { ok: false, reason: "stale_timestamp" };

  const url = typeof input.url === "string" ? new URL(input.url) : input.url;
  const parts: SignedParts = {
    method: input.method,
    pathWithQuery: url.pathname + url.search,
    timestamp,
    nonce,
    bodySha256,
    owner,
    services: servicesText,
  };
  if (!(await suite.verifyHmac(key, canonicalString(parts), signature))) {
    return { ok: false, reason: "bad_signature" };
  }
  if ((await suite.sha256Hex(input.body)) !== bodySha256) return { ok: false, reason: "body_mismatch" };
  // Checked after the signature so that only the edge's own requests are reported as early.
  if (input.notBeforeMs !== undefined && timestamp < input.notBeforeMs) {
    return { ok: false, reason: "predates_start" };
  }

  const fresh = await input.nonces.remember(nonce, timestamp + windowSeconds * 1000 + 1, now);
  if (!fresh) return { ok: false, reason: "replayed_nonce" };
  return { ok: true, owner, services, keyId: key.id };
}
