import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { decodeCursor, encodeCursor } from "../src/sessions/cursor.ts";
import { newTicket, parseTicket } from "../src/sessions/tickets.ts";
import { deriveTitle } from "../src/sessions/title.ts";

describe("deriveTitle", () => {
  it("is the collapsed text when short, else a shorter prefix ending in an ellipsis", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => {
        const normalized = text.replace(/\s+/g, " ").trim();
        const title = deriveTitle(text);
        if (normalized.length === 0) {
          expect(title).toBeNull();
          return;
        }
        if (Array.from(normalized).length <= 60) {
          expect(title).toBe(normalized);
          return;
        }
        expect(title?.endsWith("…")).toBe(true);
        const body = title!.slice(0, -1);
        expect(Array.from(body).length).toBeLessThanOrEqual(60);
        expect(Array.from(body).length).toBeGreaterThan(0);
        expect(normalized.startsWith(body)).toBe(true);
        expect(body).toBe(body.trim());
      }),
    );
  });

  it("cuts at a word boundary when one is near 60 characters", () => {
    const words = fc.array(fc.stringMatching(/^[a-z]{1,9}$/), { minLength: 15, maxLength: 40 });
    fc.assert(
      fc.property(words, (list) => {
        const title = deriveTitle(list.join(" "))!;
        if (!title.endsWith("…")) return;
        const kept = title.slice(0, -1).split(" ");
        expect(kept).toEqual(list.slice(0, kept.length));
      }),
    );
  });
});

describe("list cursors", () => {
  it("round-trip any key", () => {
    const key = fc.tuple(fc.integer(), fc.string({ maxLength: 64 }));
    fc.assert(
      fc.property(key, (k) => {
        expect(decodeCursor(encodeCursor(k), z.tuple([z.number(), z.string()]))).toEqual(k);
      }),
    );
  });

  it("reject, never throw on, anything else", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        const decoded = decodeCursor(text, z.tuple([z.number().int()]));
        if (decoded !== undefined) expect(encodeCursor(decoded)).toBe(text);
      }),
    );
  });
});

describe("WebSocket tickets", () => {
  it("parse back to their owner and secret", () => {
    const owner = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$/);
    fc.assert(
      fc.property(owner, (o) => {
        const { ticket, secret } = newTicket(o);
        expect(parseTicket(ticket)).toEqual({ owner: o, secret });
      }),
    );
  });

  it("refuse anything not shaped like one", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        const parsed = parseTicket(text);
        if (parsed) expect(text).toBe(`wst.${parsed.owner}.${parsed.secret}`);
      }),
    );
    expect(parseTicket(`wst.owner-1.${"A".repeat(42)}`)).toBeUndefined();
    expect(parseTicket(`wst.own.er.${"A".repeat(43)}`)).toBeUndefined();
  });
});
