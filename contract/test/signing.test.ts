import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  Headers,
  importSigningKey,
  MemoryNonceStore,
  NonceStoreFullError,
  type SigningKey,
  signRequest,
  verifyRequest,
} from "../src/index.ts";

const SECRET = "k".repeat(32);
const OTHER_SECRET = "o".repeat(32);
const NOW = 1_790_000_000_000;

const ownerArb = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{2,40}$/);
// "." and ".." are left out: URL parsing resolves them away, so "/v1/.." and "/v2/.." are one path.
const pathArb = fc
  .array(
    fc.stringMatching(/^[a-z0-9._~-]{1,12}$/).filter((segment) => segment !== "." && segment !== ".."),
    { minLength: 1, maxLength: 4 },
  )
  .map((segments) => `/${segments.join("/")}`);
const queryArb = fc.option(fc.stringMatching(/^[a-z]{1,6}=[a-z0-9]{0,6}$/), { nil: undefined });
const methodArb = fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE");
const bodyArb = fc.string({ maxLength: 200 });

interface Signed {
  method: string;
  url: string;
  body: string;
  headers: Record<string, string>;
}

async function sign(
  key: SigningKey,
  method: string,
  url: string,
  body: string,
  owner: string,
): Promise<Signed> {
  const headers = await signRequest({ method, url, body, owner, key, now: NOW });
  return { method, url, body, headers };
}

function verify(signed: Signed, keys: SigningKey[], nonces = new MemoryNonceStore(), now = NOW) {
  return verifyRequest({
    method: signed.method,
    url: signed.url,
    body: signed.body,
    headers: new globalThis.Headers(signed.headers),
    keys,
    nonces,
    now,
  });
}

describe("request signing", () => {
  it("verifies what it signed, for any request", async () => {
    const key = await importSigningKey(SECRET);
    await fc.assert(
      fc.asyncProperty(
        methodArb,
        pathArb,
        queryArb,
        bodyArb,
        ownerArb,
        async (method, path, query, body, owner) => {
          const url = `https://origin.test${path}${query ? `?${query}` : ""}`;
          const result = await verify(await sign(key, method, url, body, owner), [key]);
          expect(result).toEqual({ ok: true, owner, keyId: key.id });
        },
      ),
      { numRuns: 200 },
    );
  });

  it("fails when any signed part changes", async () => {
    const key = await importSigningKey(SECRET);
    const tamperings: Record<string, (s: Signed) => Signed> = {
      method: (s) => ({ ...s, method: s.method === "POST" ? "PUT" : "POST" }),
      path: (s) => ({ ...s, url: s.url.replace("/v1/", "/v2/") }),
      query: (s) => ({ ...s, url: `${s.url}${s.url.includes("?") ? "&" : "?"}x=1` }),
      body: (s) => ({ ...s, body: `${s.body} ` }),
      owner: (s) => ({ ...s, headers: { ...s.headers, [Headers.owner]: `${s.headers[Headers.owner]}X` } }),
      timestamp: (s) => ({
        ...s,
        headers: { ...s.headers, [Headers.timestamp]: String(Number(s.headers[Headers.timestamp]) - 1) },
      }),
      nonce: (s) => ({ ...s, headers: { ...s.headers, [Headers.nonce]: `${s.headers[Headers.nonce]}A` } }),
      bodyHash: (s) => ({ ...s, headers: { ...s.headers, [Headers.contentSha256]: "0".repeat(64) } }),
    };
    await fc.assert(
      fc.asyncProperty(
        pathArb,
        bodyArb,
        ownerArb,
        fc.constantFrom(...Object.keys(tamperings)),
        async (path, body, owner, part) => {
          const signed = await sign(key, "POST", `https://origin.test/v1${path}`, body, owner);
          const result = await verify(tamperings[part]!(signed), [key]);
          expect(result.ok).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("fails when any bit of the signature flips", async () => {
    const key = await importSigningKey(SECRET);
    const signed = await sign(key, "POST", "https://origin.test/v1/credentials/provision", "{}", "owner-1");
    const original = signed.headers[Headers.signature]!;
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: original.length - 2 }),
        fc.integer({ min: 1, max: 63 }),
        async (at, delta) => {
          const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
          const replaced = alphabet[(alphabet.indexOf(original[at]!) + delta) % 64]!;
          const forged = `${original.slice(0, at)}${replaced}${original.slice(at + 1)}`;
          const result = await verify(
            { ...signed, headers: { ...signed.headers, [Headers.signature]: forged } },
            [key],
          );
          expect(result.ok).toBe(false);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("rejects a replayed nonce but not a fresh one", async () => {
    const key = await importSigningKey(SECRET);
    const nonces = new MemoryNonceStore();
    const signed = await sign(key, "GET", "https://origin.test/v1/audit", "", "owner-1");
    expect((await verify(signed, [key], nonces)).ok).toBe(true);
    expect(await verify(signed, [key], nonces)).toEqual({ ok: false, reason: "replayed_nonce" });
    const again = await sign(key, "GET", "https://origin.test/v1/audit", "", "owner-1");
    expect((await verify(again, [key], nonces)).ok).toBe(true);
  });

  it("does not spend a nonce on a forged request", async () => {
    const key = await importSigningKey(SECRET);
    const nonces = new MemoryNonceStore();
    const signed = await sign(key, "GET", "https://origin.test/v1/audit", "", "owner-1");
    const forged = { ...signed, headers: { ...signed.headers, [Headers.owner]: "owner-2" } };
    expect(await verify(forged, [key], nonces)).toEqual({ ok: false, reason: "bad_signature" });
    expect((await verify(signed, [key], nonces)).ok).toBe(true);
  });

  it("enforces the clock window in both directions", async () => {
    const key = await importSigningKey(SECRET);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: -600, max: 600 }), async (skewSeconds) => {
        const signed = await sign(key, "GET", "https://origin.test/v1/audit", "", "owner-1");
        const result = await verify(signed, [key], new MemoryNonceStore(), NOW + skewSeconds * 1000);
        expect(result.ok).toBe(Math.abs(skewSeconds) <= 60);
      }),
      { numRuns: 200 },
    );
  });

  it("accepts the previous key during a rotation and rejects an unknown key", async () => {
    const current = await importSigningKey(SECRET);
    const previous = await importSigningKey(OTHER_SECRET);
    const signedWithPrevious = await sign(previous, "GET", "https://origin.test/v1/audit", "", "owner-1");
    expect((await verify(signedWithPrevious, [current, previous])).ok).toBe(true);
    expect(await verify(signedWithPrevious, [current])).toEqual({ ok: false, reason: "unknown_key" });
  });

  it("rejects missing and malformed headers without throwing", async () => {
    const key = await importSigningKey(SECRET);
    const signed = await sign(key, "GET", "https://origin.test/v1/audit", "", "owner-1");
    for (const name of Object.keys(signed.headers)) {
      const headers = { ...signed.headers };
      delete headers[name];
      expect(await verify({ ...signed, headers }, [key])).toEqual({ ok: false, reason: "missing_headers" });
    }
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...Object.keys(signed.headers)),
        fc.string({ minLength: 1, maxLength: 80 }).filter((s) => /^[\x20-\x7e]+$/.test(s)),
        async (name, value) => {
          const result = await verify({ ...signed, headers: { ...signed.headers, [name]: value } }, [key]);
          if (value !== signed.headers[name]) expect(result.ok).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("refuses keys shorter than 32 bytes", async () => {
    await expect(importSigningKey("short")).rejects.toThrow(/at least 32 bytes/);
  });
});

describe("MemoryNonceStore", () => {
  it("forgets expired nonces and refuses to drop live ones when full", () => {
    const store = new MemoryNonceStore(2);
    expect(store.remember("a", 1000, 0)).toBe(true);
    expect(store.remember("b", 5000, 0)).toBe(true);
    expect(() => store.remember("c", 5000, 500)).toThrow(NonceStoreFullError);
    expect(store.remember("c", 5000, 2000)).toBe(true);
    expect(store.size).toBe(2);
    expect(store.remember("b", 5000, 2000)).toBe(false);
  });
});
