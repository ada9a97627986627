/**
 * Presigned download tokens: `{owner}.{documentId}.{version}.{expiresAt}.{mac}` where mac is
 * base64url(HMAC-SHA-256(key, "doc-presign-v1\n" + the four fields)). Owners, ids and versions use
 * alphabets without '.', so the token splits unambiguously.
 */
export interface PresignClaims {
  owner: string;
  documentId: string;
  version: number;
  /** Unix seconds. */
  expiresAt: number;
}

export type PresignVerdict =
  | { ok: true; claims: PresignClaims }
  | { ok: false; reason: "invalid" | "expired" };

const encoder = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
      "verify",
    ]);
    keys.clear();
    keys.set(secret, key);
  }
  return key;
}

function message(claims: PresignClaims): Uint8Array {
  return encoder.encode(
    `doc-presign-v1\n${claims.owner}\n${claims.documentId}\n${claims.version}\n${claims.expiresAt}`,
  );
}

function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64url(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]{43}$/.test(text)) return undefined;
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  // The last character carries two unused bits: only the canonical spelling is accepted, so no
  // two different tokens verify as the same one.
  return base64url(bytes) === text ? bytes : undefined;
}

export async function signPresign(secret: string, claims: PresignClaims): Promise<string> {
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(secret), message(claims)));
  return `${claims.owner}.${claims.documentId}.${claims.version}.${claims.expiresAt}.${base64url(mac)}`;
}

const TOKEN =
  /^([A-Za-z0-9][A-Za-z0-9_-]{2,63})\.([0-9a-f-]{36})\.([1-9][0-9]{0,14})\.([1-9][0-9]{0,11})\.([A-Za-z0-9_-]{43})$/;

/** Checks the MAC in constant time before looking at the expiry, so a forged token learns nothing. */
export async function verifyPresign(
  secret: string,
  token: string,
  nowSeconds: number,
): Promise<PresignVerdict> {
  const match = TOKEN.exec(token);
  if (!match) return { ok: false, reason: "invalid" };
  const [, owner = "", documentId = "", version = "", expiresAt = "", mac = ""] = match;
  const claims = { owner, documentId, version: Number(version), expiresAt: Number(expiresAt) };
  const signature = fromBase64url(mac);
  if (!signature) return { ok: false, reason: "invalid" };
  const valid = await crypto.subtle.verify("HMAC", await hmacKey(secret), signature, message(claims));
  if (!valid) return { ok: false, reason: "invalid" };
  if (claims.expiresAt <= nowSeconds) return { ok: false, reason: "expired" };
  return { ok: true, claims };
}
