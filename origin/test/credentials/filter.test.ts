import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseFilter } from "../../../dev/src/connect/filter.ts";
import { titleFilterQuery } from "../../src/credentials/broker.ts";

describe("title filter query", () => {
  it("carries any title through URL decoding and Connect's filter grammar unchanged", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 64 }), (title) => {
        const filter = new URLSearchParams(titleFilterQuery(title).slice(1)).get("filter");
        expect(filter).not.toBeNull();
        expect(parseFilter(filter as string)).toEqual({
          ok: true,
          value: { attribute: "title", operator: "eq", value: title },
        });
      }),
    );
  });

  it.each(['chittyid "legacy"', "chittyrouter+beta", "chittyrouter beta", "a&b=c#d%20"])(
    "keeps %s intact",
    (title) => {
      const query = titleFilterQuery(title);
      expect(query.slice("?filter=".length)).toMatch(/^[A-Za-z0-9%._~*'()!-]+$/);
      expect(new URLSearchParams(query.slice(1)).get("filter")).toBe(`title eq ${JSON.stringify(title)}`);
    },
  );
});
