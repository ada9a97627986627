import { compactDecrypt, exportJWK, generateKeyPair } from "jose";

/** The public half as the edge accepts it in `recipientPublicKey`. */
export interface RecipientPublicKey {
  kty: "EC";
  crv: "P-256";
  x: string;
  y: string;
}

/** One use only: a fresh P-256 key pair whose private half never leaves this process's memory. */
export interface SealingKey {
  publicJwk: RecipientPublicKey;
  /** Decrypts the origin's compact JWE (ECDH-ES + A256GCM) to the value. */
  open(jwe: string): Promise<string>;
}

/** A new ephemeral key pair per call, so one leaked private key opens one answer at most. */
export async function createSealingKey(): Promise<SealingKey> {
  const { publicKey, privateKey } = await generateKeyPair("ECDH-ES", { crv: "P-256" });
  const jwk = await exportJWK(publicKey);
  if (typeof jwk.x !== "string" || typeof jwk.y !== "string") throw new Error("P-256 export lacks x or y");
  return {
    publicJwk: { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y },
    async open(jwe) {
      const { plaintext, protectedHeader } = await compactDecrypt(jwe, privateKey, {
        keyManagementAlgorithms: ["ECDH-ES"],
        contentEncryptionAlgorithms: ["A256GCM"],
      });
      if (protectedHeader.alg !== "ECDH-ES") throw new Error(`unexpected JWE alg ${protectedHeader.alg}`);
      return new TextDecoder().decode(plaintext);
    },
  };
}
