import { ProvisionRequestSchema, type RecipientPublicKey } from "@chittyconnect/contract";
import fc from "fast-check";
import { compactDecrypt, decodeProtectedHeader, exportJWK, generateKeyPair } from "jose";
import { describe, expect, it } from "vitest";
import { importRecipientKey, sealValue } from "../../src/credentials/seal.ts";

async function recipient(crv: "P-256" | "P-384" = "P-256") {
  const pair = await generateKeyPair("ECDH-ES", { crv, extractable: true });
  const jwk = await exportJWK(pair.publicKey);
  return { privateKey: pair.privateKey, jwk: { ...jwk, kid: "device-1" } as RecipientPublicKey };
}

describe("sealed delivery", () => {
  it("only the recipient's private key opens the JWE; the header carries alg, enc and kid", async () => {
    const alice = await recipient();
    const mallory = await recipient();
    const jwe = await sealValue("dev-chittyid-service-token-7f3c9a41", await importRecipientKey(alice.jwk));
    expect(jwe.split(".")).toHaveLength(5);
    expect(jwe).not.toContain("dev-chittyid");
    expect(decodeProtectedHeader(jwe)).toMatchObject({ alg: "ECDH-ES", enc: "A256GCM", kid: "device-1" });
    const opened = await compactDecrypt(jwe, alice.privateKey);
    expect(new TextDecoder().decode(opened.plaintext)).toBe("dev-chittyid-service-token-7f3c9a41");
    await expect(compactDecrypt(jwe, mallory.privateKey)).rejects.toThrow();
  });

  it("round-trips any value on P-384 too", async () => {
    const bob = await recipient("P-384");
    const key = await importRecipientKey(bob.jwk);
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 200 }), async (value) => {
        const opened = await compactDecrypt(await sealValue(value, key), bob.privateKey);
        expect(new TextDecoder().decode(opened.plaintext)).toBe(value);
      }),
      { numRuns: 20 },
    );
  });

  it("refuses private keys and points that are not on the curve", async () => {
    const pair = await generateKeyPair("ECDH-ES", { crv: "P-256", extractable: true });
    const privateJwk = await exportJWK(pair.privateKey);
    const request = { service: "svc", credentialPath: "a/b/c", purpose: "p", recipientPublicKey: privateJwk };
    expect(ProvisionRequestSchema.safeParse(request).success).toBe(false);
    await expect(importRecipientKey(privateJwk as RecipientPublicKey)).rejects.toMatchObject({
      status: 400,
      code: "invalid_recipient_key",
    });
    const { jwk } = await recipient();
    const offCurve = { ...jwk, y: jwk.x };
    await expect(importRecipientKey(offCurve)).rejects.toMatchObject({
      status: 400,
      code: "invalid_recipient_key",
    });
  });
});
