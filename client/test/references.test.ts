import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { templateReferences } from "../src/cli/inject.ts";
import {
  BadReferenceError,
  formatReference,
  parseReference,
  type SecretReference,
} from "../src/cli/references.ts";

// Titles as 1Password allows them (any text but "/"), including spaces, "+", quotes, "%", "?", "#".
const title = fc
  .string({
    unit: fc.constantFrom(
      "a",
      "Z",
      "0",
      " ",
      "+",
      '"',
      "'",
      "%",
      "?",
      "#",
      "&",
      "=",
      "é",
      "😀",
      "-",
      "_",
      ".",
      "~",
    ),
    minLength: 1,
    maxLength: 20,
  })
  .filter((text) => text.length > 0);
const anyTitle = fc.oneof(
  title,
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 }).filter((t) => !t.includes("/")),
);

const reference = fc.record(
  { vault: anyTitle, item: anyTitle, field: anyTitle, service: anyTitle, purpose: anyTitle },
  { requiredKeys: ["vault", "item", "field"] },
) as fc.Arbitrary<SecretReference>;

describe("secret references", () => {
  it("parse(format(r)) is r for any titles", () => {
    fc.assert(
      fc.property(reference, (r) => {
        expect(parseReference(formatReference(r))).toEqual(r);
      }),
      { numRuns: 500 },
    );
  });

  it("a formatted reference holds no whitespace, so it survives env files and templates", () => {
    fc.assert(
      fc.property(reference, (r) => {
        const text = formatReference(r);
        expect(text).not.toMatch(/\s|}/);
        expect(templateReferences(`a: {{ ${text} }}\nb: {{${text}}}`)).toEqual([text, text]);
      }),
    );
  });

  it("any string either parses or fails with a BadReferenceError (never another error)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), fc.constantFrom("chittyconnect://", ""), (tail, prefix) => {
        try {
          const parsed = parseReference(prefix + tail);
          for (const part of [parsed.vault, parsed.item, parsed.field]) {
            expect(part.length).toBeGreaterThan(0);
            expect(part).not.toContain("/");
          }
        } catch (error) {
          expect(error).toBeInstanceOf(BadReferenceError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("reads the README's forms and refuses the mistakes it names", () => {
    expect(parseReference("chittyconnect://services/chittyid/service_token")).toEqual({
      vault: "services",
      item: "chittyid",
      field: "service_token",
    });
    expect(
      parseReference(
        "chittyconnect://services/chittyid%20%22legacy%22/password?service=chittyid&purpose=ci+deploy",
      ),
    ).toEqual({
      vault: "services",
      item: 'chittyid "legacy"',
      field: "password",
      service: "chittyid",
      purpose: "ci+deploy",
    });
    for (const [text, message] of [
      ["chittyconnect://services/chittyid", /3 segments|<vault>\/<item>\/<field>/],
      ["chittyconnect://services//token", /item is empty/],
      ["chittyconnect://a/b c/d", /whitespace/],
      ["chittyconnect://a/b/c?servce=x", /unknown parameter "servce"/],
      ["chittyconnect://a/b/c?service=x&service=y", /given twice/],
      ["chittyconnect://a/b%2Fc/d", /holds "\/"/],
      ["chittyconnect://a/b%zz/d", /escape/],
      ["op://a/b/c", /starts with chittyconnect:\/\//],
    ] as const) {
      expect(() => parseReference(text)).toThrow(message);
    }
  });
});
