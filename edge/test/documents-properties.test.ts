import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formBoundary, readFormHead } from "../src/documents/form.ts";
import { parseRange } from "../src/documents/http-range.ts";
import { DOCUMENT_TYPES, documentPrefix, parseVersionKey, versionKey } from "../src/documents/keys.ts";
import { signPresign, verifyPresign } from "../src/documents/presign.ts";
import { encodeForm } from "./documents-helpers.ts";

const owner = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$/);
const type = fc.constantFrom(...DOCUMENT_TYPES);
const version = fc.integer({ min: 1, max: 1_000_000 });
const KEY = "property-test-signing-key-0123456789abcdef";

describe("key builder", () => {
  it("round-trips and always stays under its owner's prefix", () => {
    fc.assert(
      fc.property(owner, type, fc.uuid(), version, (o, t, id, v) => {
        const key = versionKey(o, t, id, v);
        expect(key.startsWith(`chittyid/${o}/${t}/${id}/`)).toBe(true);
        expect(parseVersionKey(key)).toEqual({ owner: o, type: t, documentId: id, version: v });
      }),
    );
  });

  it("refuses any part that could leave the prefix", () => {
    const hostile = fc.oneof(
      fc.constantFrom("..", ".", "a/b", "../x", "%2e%2e", "x\\y", "", "a\u0000b"),
      fc.string().filter((s) => /[^A-Za-z0-9_-]/.test(s)),
    );
    fc.assert(
      fc.property(hostile, type, fc.uuid(), (bad, t, id) => {
        expect(() => documentPrefix(bad, t, id)).toThrow();
        expect(() => documentPrefix("owner-1", t, bad)).toThrow();
        expect(() => documentPrefix("owner-1", bad as "cases", id)).toThrow();
      }),
    );
  });

  it("parses nothing the builder could not have produced", () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        const parsed = parseVersionKey(text);
        if (parsed)
          expect(versionKey(parsed.owner, parsed.type, parsed.documentId, parsed.version)).toBe(text);
      }),
    );
  });
});

describe("presign token", () => {
  const claims = fc.record({
    owner,
    documentId: fc.uuid(),
    version,
    expiresAt: fc.integer({ min: 2_000_000_000, max: 9_999_999_999 }),
  });

  it("verifies what it signed, and nothing after any single-character change", async () => {
    await fc.assert(
      fc.asyncProperty(
        claims,
        fc.nat(),
        fc.string({ minLength: 1, maxLength: 1 }),
        async (c, at, replacement) => {
          const token = await signPresign(KEY, c);
          expect(await verifyPresign(KEY, token, c.expiresAt - 1)).toEqual({ ok: true, claims: c });
          const i = at % token.length;
          fc.pre(token[i] !== replacement);
          const tampered = token.slice(0, i) + replacement + token.slice(i + 1);
          expect((await verifyPresign(KEY, tampered, c.expiresAt - 1)).ok).toBe(false);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("expires exactly at its expiry and does not verify under another key", async () => {
    await fc.assert(
      fc.asyncProperty(claims, async (c) => {
        const token = await signPresign(KEY, c);
        expect(await verifyPresign(KEY, token, c.expiresAt)).toEqual({ ok: false, reason: "expired" });
        expect(await verifyPresign(`${KEY}-other`, token, 0)).toEqual({ ok: false, reason: "invalid" });
      }),
      { numRuns: 50 },
    );
  });
});

describe("Range parser", () => {
  it("never returns a range outside the representation", () => {
    fc.assert(
      fc.property(fc.nat(10_000), fc.option(fc.nat(20_000)), fc.option(fc.nat(20_000)), (size, a, b) => {
        const header = `bytes=${a ?? ""}-${b ?? ""}`;
        const result = parseRange(header, size);
        if (result.kind === "partial") {
          expect(result.offset).toBeGreaterThanOrEqual(0);
          expect(result.length).toBeGreaterThan(0);
          expect(result.offset + result.length).toBeLessThanOrEqual(size);
        }
      }),
    );
  });
});

describe("form reader", () => {
  const field = fc.record({
    name: fc.constantFrom("type", "tags", "metadata", "name"),
    value: fc.string({ maxLength: 200 }).filter((s) => !s.includes("--")),
  });

  it("returns the fields and exactly the file's bytes, however the body is chunked", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(field, { selector: (f) => f.name, maxLength: 4 }),
        fc.uint8Array({ maxLength: 4096 }),
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 8 }),
        async (fields, file, cuts) => {
          const { body, contentType } = encodeForm([
            ...fields,
            { name: "file", value: file, filename: "f.bin", contentType: "application/octet-stream" },
          ]);
          const boundary = formBoundary(contentType) as string;
          const stream = new ReadableStream<Uint8Array>({
            start(controller) {
              let offset = 0;
              for (let i = 0; offset < body.length; i++) {
                const size = cuts[i % cuts.length] as number;
                controller.enqueue(body.slice(offset, offset + size));
                offset += size;
              }
              controller.close();
            },
          });
          const head = await readFormHead(stream, boundary, body.byteLength);
          expect(Object.fromEntries(head.fields)).toEqual(
            Object.fromEntries(fields.map((f) => [f.name, f.value])),
          );
          expect(head.fileLength).toBe(file.byteLength);
          expect(new Uint8Array(await new Response(head.fileBody).arrayBuffer())).toEqual(file);
        },
      ),
      { numRuns: 100 },
    );
  });

  it("rejects a body cut anywhere short of its end", async () => {
    const { body, contentType } = encodeForm([
      { name: "type", value: "evidence" },
      { name: "file", value: new Uint8Array(300).fill(7), filename: "f.bin" },
    ]);
    const boundary = formBoundary(contentType) as string;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: body.byteLength - 1 }), async (cut) => {
        const stream = new Response(body.slice(0, cut)).body as ReadableStream<Uint8Array>;
        const attempt = readFormHead(stream, boundary, body.byteLength).then((head) =>
          new Response(head.fileBody).arrayBuffer(),
        );
        await expect(attempt).rejects.toMatchObject({ code: "invalid_form" });
      }),
      { numRuns: 60 },
    );
  });
});

describe("OpenAPI", () => {
  it("describes every documents route", async () => {
    const { call } = await import("./documents-helpers.ts");
    const doc = (await (await call("/api/v1/openapi.json")).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const operations = Object.entries(doc.paths)
      .filter(([path]) => path.startsWith("/api/v1/documents"))
      .flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`));
    expect(operations.sort()).toEqual(
      [
        "GET /api/v1/documents",
        "POST /api/v1/documents/upload",
        "GET /api/v1/documents/stats",
        "POST /api/v1/documents/multipart",
        "GET /api/v1/documents/multipart/{uploadId}",
        "DELETE /api/v1/documents/multipart/{uploadId}",
        "PUT /api/v1/documents/multipart/{uploadId}/parts/{n}",
        "POST /api/v1/documents/multipart/{uploadId}/complete",
        "GET /api/v1/documents/presigned/{token}",
        "GET /api/v1/documents/{id}",
        "PATCH /api/v1/documents/{id}",
        "DELETE /api/v1/documents/{id}",
        "GET /api/v1/documents/{id}/download",
        "PUT /api/v1/documents/{id}/content",
        "GET /api/v1/documents/{id}/versions",
        "POST /api/v1/documents/{id}/presign",
        "GET /api/v1/documents/{id}/permissions",
        "POST /api/v1/documents/{id}/permissions",
        "DELETE /api/v1/documents/{id}/permissions/{grantee}",
        "GET /api/v1/documents/{id}/relationships",
        "POST /api/v1/documents/{id}/relationships",
        "DELETE /api/v1/documents/{id}/relationships/{targetId}",
        "GET /api/v1/documents/{id}/access-log",
      ].sort(),
    );
  });
});
