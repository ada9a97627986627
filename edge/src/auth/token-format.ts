import { randomBase64Url, sha256Hex } from "@chittyconnect/contract";

export const TOKEN_PREFIX = "cc_";
const TOKEN_BYTES = 32;
// 32 bytes are 43 base64url characters without padding.
const TOKEN_PATTERN = /^cc_[A-Za-z0-9_-]{43}$/;

export function generateToken(): string {
  return TOKEN_PREFIX + randomBase64Url(TOKEN_BYTES);
}

export function isWellFormedToken(text: string): boolean {
  return TOKEN_PATTERN.test(text);
}

export function hashToken(token: string): Promise<string> {
  return sha256Hex(token);
}

/** Extracts the credentials of an `Authorization: Bearer …` header; undefined when malformed. */
export function parseBearer(header: string | null | undefined): string | undefined {
  if (!header || header.length > 256) return undefined;
  const match = /^Bearer +(\S+) *$/i.exec(header);
  const token = match?.[1];
  return token !== undefined && isWellFormedToken(token) ? token : undefined;
}
