import { filterByTitle } from "@1password/connect/dist/lib/utils/query-builder.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { filterRows, parseFilter } from "../src/connect/filter.ts";

// Titles built from the characters that break naive quoting and URL handling, plus anything at all.
const awkward = fc.constantFrom(
  '"',
  "\\",
  "+",
  " ",
  "%",
  "&",
  "#",
  "=",
  "?",
  "/",
  "\t",
  "\n",
  "\u0000",
  "é",
  "🔑",
);
const titleArb = fc.string({
  unit: fc.oneof(
    awkward,
    fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 1 }),
    fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
  ),
  maxLength: 30,
});

/** What the server reads from a request path: URLSearchParams decodes like Go's net/url. */
const filterParamOf = (pathAndQuery: string) =>
  new URL(pathAndQuery, "http://connect.test").searchParams.get("filter");

describe("parseFilter", () => {
  it("round-trips any title quoted with SCIM's JSON string escaping", () => {
    fc.assert(
      fc.property(titleArb, fc.constantFrom("eq", "co", "EQ"), (title, op) => {
        expect(parseFilter(`title ${op} ${JSON.stringify(title)}`)).toEqual({
          ok: true,
          value: { attribute: "title", operator: op.toLowerCase(), value: title },
        });
      }),
    );
  });

  it("round-trips what the SDK's own filterByTitle builds, for titles without quotes, backslashes or controls", () => {
    const plain = titleArb.filter((t) => !/["\\\p{Cc}]/u.test(t));
    fc.assert(
      fc.property(plain, (title) => {
        const built = filterByTitle(title).slice("filter=".length);
        expect(parseFilter(built)).toEqual({
          ok: true,
          value: { attribute: "title", operator: "eq", value: title },
        });
      }),
    );
  });

  it("round-trips any title over HTTP when the query is encodeURIComponent-ed (what a careful client sends)", () => {
    fc.assert(
      fc.property(titleArb, (title) => {
        const query = `?filter=${encodeURIComponent(`title eq ${JSON.stringify(title)}`)}`;
        const parsed = parseFilter(filterParamOf(`/v1/vaults/x/items${query}`) ?? "");
        expect(parsed.ok && parsed.value.value).toBe(title);
      }),
    );
  });

  it("shows what the SDK's unencoded query becomes on the wire: every '+' arrives as a space", () => {
    const sdkSafe = titleArb.filter((t) => !/["\\%#&\p{Cc}]/u.test(t));
    fc.assert(
      fc.property(sdkSafe, (title) => {
        // The SDK resolves its relative path against serverURL with new URL(), then sends it as is.
        const path = new URL(`v1/vaults/x/items/?${filterByTitle(title)}`, "http://connect.test").href;
        const parsed = parseFilter(filterParamOf(path) ?? "");
        expect(parsed.ok && parsed.value.value).toBe(title.replaceAll("+", " "));
      }),
    );
  });

  it("never throws: any input parses or yields a message", () => {
    const tokens = fc.constantFrom(
      "title",
      "tag",
      "eq",
      "co",
      "and",
      " ",
      '"',
      '\\"',
      "\\",
      "\\u00e9",
      "\\x",
      "\n",
    );
    const soup = fc
      .array(fc.oneof(tokens, fc.string({ maxLength: 4 })), { maxLength: 12 })
      .map((p) => p.join(""));
    fc.assert(
      fc.property(fc.oneof(fc.string(), soup), (text) => {
        const parsed = parseFilter(text);
        if (!parsed.ok) expect(parsed.message).toMatch(/\S/);
      }),
    );
  });

  it.each([
    ["", /expected <attribute>/],
    ["title", /expected <attribute>/],
    ["title eq chittyid", /double-quoted/],
    ['title eq "chittyid', /not terminated/],
    ['title eq "say "hi""', /after the quoted value/],
    ['title eq "a" and tag eq "b"', /after the quoted value/],
    ['title lt "a"', /unsupported operator "lt"/],
    ['title eq "bad \\x escape"', /invalid escape/],
    ['title eq "trailing\\"', /not terminated/],
  ])("rejects %j", (text, message) => {
    const parsed = parseFilter(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.message).toMatch(message);
  });

  it("accepts escaped quotes and surrounding whitespace", () => {
    expect(parseFilter('  Title  EQ  "chittyid \\"legacy\\""  ')).toEqual({
      ok: true,
      value: { attribute: "title", operator: "eq", value: 'chittyid "legacy"' },
    });
  });
});

describe("filterRows", () => {
  const rows = [
    { title: "chittychat", tags: ["primary"] },
    { title: "chittychat", tags: ["secondary"] },
    { title: "chittyid", tags: [] },
  ];
  const attributes = {
    title: (r: (typeof rows)[number]) => [r.title],
    tag: (r: (typeof rows)[number]) => r.tags,
  };

  it("keeps everything when there is no filter", () => {
    expect(filterRows(rows, null, attributes)).toEqual({ ok: true, value: rows });
    expect(filterRows(rows, "", attributes)).toEqual({ ok: true, value: rows });
  });

  it("matches eq exactly, co by substring, tag against any tag", () => {
    expect(filterRows(rows, 'title eq "chittychat"', attributes)).toEqual({
      ok: true,
      value: rows.slice(0, 2),
    });
    expect(filterRows(rows, 'title eq "ChittyChat"', attributes)).toEqual({ ok: true, value: [] });
    expect(filterRows(rows, 'title co "chitty"', attributes)).toEqual({ ok: true, value: rows });
    expect(filterRows(rows, 'tag eq "secondary"', attributes)).toEqual({ ok: true, value: [rows[1]] });
  });

  it("rejects attributes the collection cannot be filtered on", () => {
    expect(filterRows(rows, 'name eq "x"', attributes)).toEqual({
      ok: false,
      message: 'cannot filter on "name" (supported: title, tag)',
    });
    expect(filterRows(rows, 'constructor eq "x"', attributes).ok).toBe(false);
  });
});
