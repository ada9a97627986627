import { createHash, createHmac, createSecretKey, type KeyObject, timingSafeEqual } from "node:crypto";
import { type HmacSuite, signingKeyBytes } from "@chittyconnect/contract";

/**
 * The contract's signing scheme checked with node:crypto. WebCrypto on Node runs every
 * digest and verify through the thread pool (20–80 µs a call against 1–3 µs here), and the origin
 * does both on every request. Same canonical string, same vectors (contract/test/signing-vectors.ts).
 */
export interface NodeSigningKey {
  id: string;
  secret: KeyObject;
}

export function importNodeSigningKey(secret: string): NodeSigningKey {
  const raw = signingKeyBytes(secret);
  return { id: createHash("sha256").update(raw).digest("hex").slice(0, 16), secret: createSecretKey(raw) };
}

export const nodeCryptoSuite: HmacSuite<NodeSigningKey> = {
  sha256Hex: (data) => createHash("sha256").update(data).digest("hex"),
  verifyHmac(key, message, signature) {
    const expected = createHmac("sha256", key.secret).update(message, "utf8").digest();
    return expected.byteLength === signature.byteLength && timingSafeEqual(expected, signature);
  },
};
