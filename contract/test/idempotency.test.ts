import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { IdempotencyKeySchema, OriginCredentialRequestSchema, parseIdempotencyKey } from "../src/index.ts";

const ALLOWED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:~";
const validKey = fc.string({
  unit: fc.constantFrom(...ALLOWED.split("")),
  minLength: 8,
  maxLength: 128,
});

describe("Idempotency-Key parsing", () => {
  it("accepts every key of 8 to 128 allowed characters, bare or quoted, as the same key", () => {
    fc.assert(
      fc.property(validKey, (key) => {
        expect(parseIdempotencyKey(key)).toEqual({ ok: true, key });
        expect(parseIdempotencyKey(`"${key}"`)).toEqual({ ok: true, key });
        expect(IdempotencyKeySchema.safeParse(key).success).toBe(true);
      }),
    );
  });

  it("treats an absent header as no key", () => {
    expect(parseIdempotencyKey(undefined)).toEqual({ ok: true, key: undefined });
    expect(parseIdempotencyKey(null)).toEqual({ ok: true, key: undefined });
  });

  it("refuses a key of the wrong length, whatever its characters", () => {
    const tooShort = fc.string({ maxLength: 7 });
    const tooLong = fc.string({ minLength: 129, maxLength: 400 });
    fc.assert(
      fc.property(fc.oneof(tooShort, tooLong), (text) => {
        const unquoted =
          text.length >= 2 && text.startsWith('"') && text.endsWith('"') ? text.slice(1, -1) : text;
        fc.pre(unquoted.length < 8 || unquoted.length > 128);
        expect(parseIdempotencyKey(text)).toEqual({ ok: false, reason: "length" });
      }),
    );
  });

  it("refuses any key holding a character outside the set (spaces, commas of a repeated header, unicode)", () => {
    const bad = fc
      .string({ minLength: 1, maxLength: 3 })
      .filter((s) => [...s].some((ch) => !ALLOWED.includes(ch)));
    fc.assert(
      fc.property(validKey, bad, fc.nat(), (key, insert, at) => {
        const position = at % (key.length + 1);
        const text = (key.slice(0, position) + insert + key.slice(position)).slice(0, 128);
        fc.pre(text.length >= 8 && !(text.startsWith('"') && text.endsWith('"')));
        fc.pre([...text].some((ch) => !ALLOWED.includes(ch)));
        const result = parseIdempotencyKey(text);
        expect(result.ok).toBe(false);
        expect(IdempotencyKeySchema.safeParse(text).success).toBe(false);
      }),
    );
    expect(parseIdempotencyKey("abcdefgh, abcdefgh")).toEqual({ ok: false, reason: "charset" });
    expect(parseIdempotencyKey('"abcdefgh')).toEqual({ ok: false, reason: "charset" });
  });

  it("never throws and agrees with the zod schema on unquoted input", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        const result = parseIdempotencyKey(text);
        if (!text.startsWith('"')) expect(result.ok).toBe(IdempotencyKeySchema.safeParse(text).success);
      }),
    );
  });

  it("carries the key in the origin's request schema, which still refuses unknown members", () => {
    const request = {
      service: "chittyid",
      credentialPath: "a/b/c",
      purpose: "p",
      idempotencyKey: "key-12345",
    };
    expect(OriginCredentialRequestSchema.parse(request)).toEqual(request);
    expect(OriginCredentialRequestSchema.safeParse({ ...request, extra: 1 }).success).toBe(false);
    expect(OriginCredentialRequestSchema.safeParse({ ...request, idempotencyKey: "short" }).success).toBe(
      false,
    );
  });
});
