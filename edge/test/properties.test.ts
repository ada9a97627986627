import {
  importSigningKey,
  isJsonMediaType,
  MemoryNonceStore,
  OwnerIdSchema,
  readStreamLimited,
} from "@chittyconnect/contract";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { adminTokenMatches } from "../src/auth/admin.ts";
import { SCOPES, ScopeListSchema } from "../src/auth/scopes.ts";
import { generateToken, isWellFormedToken, parseBearer } from "../src/auth/token-format.ts";
import { decodeCursor, encodeCursor } from "../src/auth/token-store.ts";
import { OriginClient } from "../src/origin/client.ts";
import { chooseRequestId } from "../src/request-id.ts";
import { TEST_SIGNING_KEY } from "./fake-origin.ts";
import { verifyEdgeSignature } from "./helpers.ts";

const base64UrlChar = fc.constantFrom(
  ..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".split(""),
);
const tokenArb = fc.string({ unit: base64UrlChar, minLength: 43, maxLength: 43 }).map((s) => `cc_${s}`);

describe("token format", () => {
  it("generates well-formed, distinct tokens", () => {
    const tokens = Array.from({ length: 200 }, generateToken);
    expect(tokens.every(isWellFormedToken)).toBe(true);
    expect(new Set(tokens).size).toBe(tokens.length);
  });

  it("parses any well-formed bearer header back to its token", () => {
    fc.assert(
      fc.property(tokenArb, fc.constantFrom("Bearer", "bearer", "BEARER"), (token, scheme) => {
        expect(parseBearer(`${scheme} ${token}`)).toBe(token);
      }),
    );
  });

  it("never accepts anything but a cc_ token of exactly 43 base64url characters", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => {
        const parsed = parseBearer(text);
        if (parsed !== undefined) expect(parsed).toMatch(/^cc_[A-Za-z0-9_-]{43}$/);
      }),
    );
    fc.assert(
      fc.property(tokenArb, fc.string({ minLength: 1, maxLength: 5 }), (token, extra) => {
        fc.pre(!/^\s*$/.test(extra));
        expect(parseBearer(`Bearer ${token}${extra}`)).toBeUndefined();
      }),
    );
  });
});

describe("list cursors", () => {
  it("round-trip any created_at and id", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), fc.string({ maxLength: 60 }), (createdAt, id) => {
        expect(decodeCursor(encodeCursor(createdAt, id))).toEqual({ createdAt, id });
      }),
    );
  });

  it("reject arbitrary text without throwing", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        const decoded = decodeCursor(text);
        if (decoded !== undefined) expect(typeof decoded.id).toBe("string");
      }),
    );
  });
});

describe("request ids", () => {
  it("keep only sane incoming ids and otherwise generate a UUID", () => {
    fc.assert(
      fc.property(fc.option(fc.string({ maxLength: 200 }), { nil: undefined }), (incoming) => {
        const chosen = chooseRequestId(incoming);
        if (chosen === incoming) expect(chosen).toMatch(/^[A-Za-z0-9._:-]{8,128}$/);
        else expect(chosen).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      }),
    );
  });
});

describe("content types", () => {
  it("accept application/json with any case and parameters only", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("application/json", "Application/JSON"),
        fc.string({ maxLength: 30 }),
        (type, param) => {
          expect(isJsonMediaType(`${type}; ${param.replaceAll(";", "")}`)).toBe(true);
        },
      ),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (text) => {
        if (isJsonMediaType(text)) expect(text.split(";")[0]?.trim().toLowerCase()).toBe("application/json");
      }),
    );
  });
});

describe("bounded body reading", () => {
  it("returns the exact bytes up to the limit and refuses beyond it", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }),
        fc.integer({ min: 0, max: 300 }),
        async (chunks, limit) => {
          const total = chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0);
          const stream = new ReadableStream<Uint8Array>({
            start(controller) {
              for (const chunk of chunks) controller.enqueue(chunk);
              controller.close();
            },
          });
          const read = readStreamLimited(stream, limit);
          if (total > limit) {
            await expect(read).rejects.toMatchObject({ status: 413 });
          } else {
            const bytes = await read;
            expect(Array.from(bytes)).toEqual(chunks.flatMap((chunk) => Array.from(chunk)));
          }
        },
      ),
    );
  });
});

describe("scopes and admin token comparison", () => {
  it("normalises any non-empty set of known scopes to canonical order", () => {
    fc.assert(
      fc.property(fc.shuffledSubarray([...SCOPES], { minLength: 1 }), (scopes) => {
        const parsed = ScopeListSchema.parse(scopes);
        expect(parsed).toEqual(SCOPES.filter((scope) => scopes.includes(scope)));
      }),
    );
  });

  it("matches the admin token only when equal", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ minLength: 1, maxLength: 80 }),
        fc.string({ maxLength: 80 }),
        async (a, b) => {
          expect(await adminTokenMatches(a, a)).toBe(true);
          expect(await adminTokenMatches(b, a)).toBe(a === b);
          expect(await adminTokenMatches(a, "")).toBe(false);
        },
      ),
    );
  });
});

describe("origin request signing", () => {
  it("produces requests the contract verifier accepts for any owner, body and query", async () => {
    const key = await importSigningKey(TEST_SIGNING_KEY);
    const nonces = new MemoryNonceStore();
    const ownerArb = fc
      .stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{2,40}$/)
      .filter((o) => OwnerIdSchema.safeParse(o).success);
    await fc.assert(
      fc.asyncProperty(
        ownerArb,
        fc.integer({ min: 1, max: 500 }),
        fc.option(fc.integer({ min: 1, max: 1_000_000 }), { nil: undefined }),
        fc.string({ maxLength: 200 }),
        async (owner, limit, before, purpose) => {
          let verified = false;
          const client = new OriginClient({
            baseUrl: "https://origin.internal",
            timeoutMs: 1000,
            signingSecret: TEST_SIGNING_KEY,
            fetcher: {
              async fetch(request) {
                const result = await verifyEdgeSignature(request, key, nonces);
                verified = result.ok && result.owner === owner;
                if (request.method === "GET") return Response.json({ entries: [] });
                const lease = {
                  id: "l",
                  issuedAt: new Date().toISOString(),
                  expiresAt: new Date().toISOString(),
                };
                return Response.json({ credentialPath: "a/b/c", sealed: false, value: "v", lease });
              },
            },
          });
          const ctx = { owner, services: ["svc"], requestId: "req-prop-0001" };
          await client.audit({ limit, before }, ctx);
          expect(verified).toBe(true);
          verified = false;
          await client.provision({ service: "svc", credentialPath: "a/b/c", purpose: purpose || "p" }, ctx);
          expect(verified).toBe(true);
        },
      ),
      { numRuns: 40 },
    );
  });
});
