import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  Headers,
  importSigningKey,
  MemoryNonceStore,
  parseServicesHeader,
  type SigningKey,
  signRequest,
  TokenServicesSchema,
  verifyRequest,
} from "../src/index.ts";
import { SIGNING_VECTORS, vectorHeaders } from "./signing-vectors.ts";

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
const serviceArb = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,20}$/);
/** What a token may carry: none (tokens without credential scopes), "*", or a list of names. */
const servicesArb = fc.oneof(
  fc.constant([] as string[]),
  fc.constant(["*"] as string[]),
  fc.uniqueArray(serviceArb, { minLength: 1, maxLength: 5 }).map((list) => TokenServicesSchema.parse(list)),
);

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
  services: string[] = ["chittyid"],
): Promise<Signed> {
  const headers = await signRequest({ method, url, body, owner, services, key, now: NOW });
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
        servicesArb,
        async (method, path, query, body, owner, services) => {
          const url = `https://origin.test${path}${query ? `?${query}` : ""}`;
          const result = await verify(await sign(key, method, url, body, owner, services), [key]);
          expect(result).toEqual({ ok: true, owner, services, keyId: key.id });
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
      servicesWidened: (s) => ({ ...s, headers: { ...s.headers, [Headers.services]: "*" } }),
      servicesAdded: (s) => ({
        ...s,
        headers: { ...s.headers, [Headers.services]: `${s.headers[Headers.services] ?? "aaa"},zzz` },
      }),
      servicesRemoved: (s) => {
        const headers = { ...s.headers };
        delete headers[Headers.services];
        return { ...s, headers };
      },
      servicesReplaced: (s) => ({ ...s, headers: { ...s.headers, [Headers.services]: "other" } }),
    };
    await fc.assert(
      fc.asyncProperty(
        pathArb,
        bodyArb,
        ownerArb,
        servicesArb,
        fc.constantFrom(...Object.keys(tamperings)),
        async (path, body, owner, services, part) => {
          const signed = await sign(key, "POST", `https://origin.test/v1${path}`, body, owner, services);
          const tampered = tamperings[part]!(signed);
          // Some tamperings leave a list unchanged (removing an absent header, "*" over "*").
          fc.pre(JSON.stringify(tampered) !== JSON.stringify(signed));
          const result = await verify(tampered, [key]);
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
    // x-chitty-services is optional (a token may name none); dropping it is tampering, tested above.
    for (const name of Object.keys(signed.headers).filter((name) => name !== Headers.services)) {
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

describe("the scheme's known answers (shared with the origin's node:crypto verifier)", () => {
  for (const vector of SIGNING_VECTORS) {
    it(`signs and verifies: ${vector.name}`, async () => {
      const key = await importSigningKey(vector.secret);
      expect(key.id).toBe(vector.keyId);
      const headers = await signRequest({
        method: vector.method,
        url: vector.url,
        body: vector.body,
        owner: vector.owner,
        services: vector.services,
        key,
        now: vector.timestamp,
        nonce: vector.nonce,
      });
      expect(headers).toEqual(vectorHeaders(vector));
      const result = await verify(
        { method: vector.method, url: vector.url, body: vector.body, headers },
        [key],
        new MemoryNonceStore(),
        vector.timestamp,
      );
      expect(result).toEqual({
        ok: true,
        owner: vector.owner,
        services: vector.services,
        keyId: vector.keyId,
      });
    });
  }
});

describe("signatures dated before the process started", () => {
  it("are refused after the signature checks out, and later ones pass", async () => {
    const key = await importSigningKey(SECRET);
    const signed = await sign(key, "GET", "https://origin.test/v1/audit", "", "owner-1");
    const check = (notBeforeMs: number) =>
      verifyRequest({
        method: signed.method,
        url: signed.url,
        body: signed.body,
        headers: new globalThis.Headers(signed.headers),
        keys: [key],
        nonces: new MemoryNonceStore(),
        now: NOW + 5000,
        notBeforeMs,
      });
    expect(await check(NOW + 1)).toEqual({ ok: false, reason: "predates_start" });
    expect((await check(NOW)).ok).toBe(true);
  });
});

describe("MemoryNonceStore", () => {
  it("forgets expired nonces as time passes, without a size threshold", () => {
    const store = new MemoryNonceStore();
    for (let i = 0; i < 1000; i++) expect(store.remember(`n${i}`, i + 100, i)).toBe(true);
    // Each call forgot what had expired by then: only the last 100 ms of nonces are held.
    expect(store.size).toBeLessThanOrEqual(101);
    expect(store.remember("n999", 2000, 1000)).toBe(false);
    expect(store.remember("n0", 2000, 1000)).toBe(true);
  });

  it("holds a flat number of entries over a long run at a steady rate", () => {
    const store = new MemoryNonceStore();
    const sizes: number[] = [];
    for (let ms = 0; ms < 600_000; ms += 10) {
      store.remember(`n${ms}`, ms + 61_000, ms);
      if (ms % 60_000 === 0) sizes.push(store.size);
    }
    expect(Math.max(...sizes.slice(2))).toBeLessThanOrEqual(6101);
  });

  it("never forgets a live nonce that arrived out of order", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 1, max: 500 })), {
          maxLength: 200,
        }),
        (events) => {
          const store = new MemoryNonceStore();
          const live = new Map<string, number>();
          let now = 0;
          events.forEach(([ageMs, ttlMs], i) => {
            now += 7;
            const expiresAt = now - ageMs + ttlMs;
            if (expiresAt <= now) return;
            expect(store.remember(`n${i}`, expiresAt, now)).toBe(true);
            live.set(`n${i}`, expiresAt);
            for (const [nonce, at] of live) {
              if (at > now) expect(store.remember(nonce, at, now)).toBe(false);
            }
          });
        },
      ),
    );
  });
});

describe("the services header", () => {
  it("parses exactly the lists a token can carry, as TokenServicesSchema normalises them", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constant("*"), fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,8}$/)), {
          maxLength: 5,
        }),
        (list) => {
          const text = list.join(",");
          const schema = TokenServicesSchema.safeParse(list);
          const canonical = schema.success && schema.data.join(",") === text;
          expect(parseServicesHeader(text)).toEqual(text === "" ? [] : canonical ? schema.data : undefined);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
