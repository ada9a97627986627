import {
  Headers,
  importSigningKey,
  MemoryNonceStore,
  signRequest,
  TokenServicesSchema,
  verifyRequest,
  verifySignedRequest,
} from "@chittyconnect/contract";
import { SIGNING_VECTORS, vectorHeaders } from "@chittyconnect/contract/signing-vectors";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { importNodeSigningKey, nodeCryptoSuite } from "../../src/http/node-signing.ts";

const SECRET = "n".repeat(40);

describe("node:crypto verifier against the scheme's known answers", () => {
  for (const vector of SIGNING_VECTORS) {
    it(`verifies: ${vector.name}`, async () => {
      const key = importNodeSigningKey(vector.secret);
      expect(key.id).toBe(vector.keyId);
      expect(nodeCryptoSuite.sha256Hex(vector.body)).toBe(vector.bodySha256);
      const result = await verifySignedRequest(
        {
          method: vector.method,
          url: vector.url,
          body: vector.body,
          headers: new globalThis.Headers(vectorHeaders(vector)),
          keys: [key],
          nonces: new MemoryNonceStore(),
          now: vector.timestamp,
        },
        nodeCryptoSuite,
      );
      expect(result).toEqual({
        ok: true,
        owner: vector.owner,
        services: vector.services,
        keyId: vector.keyId,
      });
    });
  }

  it("refuses keys shorter than 32 bytes, like the contract", () => {
    expect(() => importNodeSigningKey("short")).toThrow(/at least 32 bytes/);
  });
});

describe("node:crypto and WebCrypto agree", () => {
  const serviceArb = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,12}$/);
  const servicesArb = fc.oneof(
    fc.constant([] as string[]),
    fc.constant(["*"] as string[]),
    fc.uniqueArray(serviceArb, { minLength: 1, maxLength: 4 }).map((list) => TokenServicesSchema.parse(list)),
  );
  const headerArb = fc.constantFrom(
    Headers.owner,
    Headers.services,
    Headers.timestamp,
    Headers.nonce,
    Headers.contentSha256,
    Headers.signature,
  );

  it("on every signed request, and on every request with one header tampered", async () => {
    const webKey = await importSigningKey(SECRET);
    const nodeKey = importNodeSigningKey(SECRET);
    expect(nodeKey.id).toBe(webKey.id);
    await fc.assert(
      fc.asyncProperty(
        fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{2,30}$/),
        servicesArb,
        fc.string({ maxLength: 120 }),
        fc.option(fc.tuple(headerArb, fc.stringMatching(/^[\x21-\x7e]{0,40}$/)), { nil: undefined }),
        async (owner, services, body, tamper) => {
          const now = 1_790_000_000_000;
          const url = "https://origin.internal/v1/credentials/provision";
          const headers = await signRequest({ method: "POST", url, body, owner, services, key: webKey, now });
          if (tamper) headers[tamper[0]] = tamper[1];
          const input = { method: "POST", url, body, headers: new globalThis.Headers(headers), now };
          const web = await verifyRequest({ ...input, keys: [webKey], nonces: new MemoryNonceStore() });
          const node = await verifySignedRequest(
            { ...input, keys: [nodeKey], nonces: new MemoryNonceStore() },
            nodeCryptoSuite,
          );
          expect(node).toEqual(web.ok ? { ...web, keyId: nodeKey.id } : web);
          if (!tamper) expect(node.ok).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});
