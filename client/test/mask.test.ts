import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CONCEALED, Masker } from "../src/cli/mask.ts";

/** What masking means, on the whole text at once: leftmost, longest value first. */
function maskWhole(text: Buffer, values: string[]): Buffer {
  const sorted = [...new Set(values)]
    .filter((v) => v.length > 0)
    .map((v) => Buffer.from(v))
    .sort((a, b) => b.length - a.length);
  const out: Buffer[] = [];
  let i = 0;
  outer: while (i < text.length) {
    for (const value of sorted) {
      if (text.subarray(i, i + value.length).equals(value)) {
        out.push(Buffer.from(CONCEALED));
        i += value.length;
        continue outer;
      }
    }
    out.push(text.subarray(i, i + 1));
    i++;
  }
  return Buffer.concat(out);
}

function maskInChunks(text: Buffer, values: string[], cuts: number[]): Buffer {
  const masker = new Masker(values);
  const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const point of [...points, text.length]) {
    out.push(masker.push(text.subarray(from, point)));
    from = point;
  }
  out.push(masker.end());
  return Buffer.concat(out);
}

const alphabet = fc.constantFrom("a", "b", "c", "é", "\n", "x");
const value = fc.string({ unit: alphabet, minLength: 1, maxLength: 8 });

describe("masking a child's output", () => {
  it("gives the same output however the stream is cut, equal to masking the whole text", () => {
    fc.assert(
      fc.property(
        fc.array(value, { minLength: 1, maxLength: 4 }),
        fc.array(fc.oneof(fc.string({ unit: alphabet, maxLength: 6 }), value), { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (values, parts, cuts) => {
          const text = Buffer.from(parts.join(""));
          expect(maskInChunks(text, values, cuts).toString()).toBe(maskWhole(text, values).toString());
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("a value split at any byte boundary, even inside a UTF-8 character, is still masked", () => {
    const secrets = fc
      .string({ unit: "grapheme", minLength: 1, maxLength: 30 })
      .filter((s) => !s.includes("\0"));
    fc.assert(
      fc.property(secrets, fc.nat(), fc.nat(), (secret, a, b) => {
        // NUL around the value: it cannot overlap the text beside it.
        const text = Buffer.from(`\0${secret}\0`);
        const out = maskInChunks(text, [secret], [a, b]).toString();
        expect(out).toBe(`\0${CONCEALED}\0`);
      }),
    );
  });

  it("passes text through unchanged when there is nothing to mask", () => {
    const masker = new Masker([]);
    expect(masker.push(Buffer.from("plain")).toString()).toBe("plain");
    expect(masker.end().length).toBe(0);
  });
});
