import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { commaList } from "../src/config-list.ts";

// Entries as a list holds them: no comma, no edge whitespace, not empty.
const entry = fc
  .string({ minLength: 1, maxLength: 20 })
  .map((text) => text.replaceAll(",", "").trim())
  .filter((text) => text !== "");
const spacing = fc.constantFrom("", " ", "  ", "\t");

describe("commaList", () => {
  it("reads unset, blank and separator-only values as no entries", () => {
    for (const text of [undefined, "", "   ", ",", " , ,, "]) expect(commaList(text)).toEqual([]);
  });

  it("gives back the entries, in order, whatever spacing and empty entries surround them", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(entry, spacing, spacing, fc.boolean())), (parts) => {
        const text = parts
          .map(([value, before, after, extraComma]) => `${before}${value}${after}${extraComma ? "," : ""}`)
          .join(",");
        expect(commaList(text)).toEqual(parts.map(([value]) => value));
      }),
    );
  });
});
