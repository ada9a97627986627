import { ProblemError, type RecipientPublicKey } from "@chittyconnect/contract";
import { CompactEncrypt, importJWK } from "jose";

/** jose's key type for an imported EC JWK (the DOM CryptoKey type is not in this project's libs). */
type PublicKey = Exclude<Awaited<ReturnType<typeof importJWK>>, Uint8Array>;

export interface SealingKey {
  key: PublicKey;
  kid: string | undefined;
}

const invalidKey = (detail: string, cause?: unknown) =>
  new ProblemError({
    status: 400,
    code: "invalid_recipient_key",
    title: "Invalid recipient key",
    detail,
    cause,
  });

/**
 * Imports the caller's EC public key. Done before Connect is touched, so a rotation never happens
 * for a value we could not then deliver.
 */
export async function importRecipientKey(jwk: RecipientPublicKey): Promise<SealingKey> {
  // The contract schema is strict, but this function is also reachable without it: refuse private keys here too.
  if ("d" in jwk) throw invalidKey("recipientPublicKey must be a public key; it contains a private part");
  try {
    const key = await importJWK({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, "ECDH-ES");
    if (key instanceof Uint8Array) throw invalidKey("recipientPublicKey is not an EC key");
    return { key, kid: jwk.kid };
  } catch (error) {
    if (error instanceof ProblemError) throw error;
    throw invalidKey("recipientPublicKey is not a valid EC public key on its curve", error);
  }
}

/** Compact JWE (ECDH-ES, A256GCM) of the value; only the holder of the private key can read it. */
export async function sealValue(value: string, recipient: SealingKey): Promise<string> {
  return new CompactEncrypt(new TextEncoder().encode(value))
    .setProtectedHeader({
      alg: "ECDH-ES",
      enc: "A256GCM",
      cty: "text/plain",
      ...(recipient.kid === undefined ? {} : { kid: recipient.kid }),
    })
    .encrypt(recipient.key);
}
