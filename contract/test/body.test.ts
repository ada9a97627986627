import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { contentLength, readStreamLimited } from "../src/body.ts";

/** A stream of `chunks` that records how far it was read and whether it was cancelled. */
function tracked(chunks: Uint8Array[]) {
  const state = { pulled: 0, cancelled: false };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = chunks[state.pulled];
      if (!chunk) return controller.close();
      state.pulled++;
      controller.enqueue(chunk);
    },
    cancel() {
      state.cancelled = true;
    },
  });
  return { stream, state };
}

describe("readStreamLimited over the limit", () => {
  it("drains the rest of the body before refusing, so the connection can be reused", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 0, max: 200 }),
        async (sizes, limit) => {
          const chunks = sizes.map((size) => new Uint8Array(size));
          const total = sizes.reduce((sum, size) => sum + size, 0);
          fc.pre(total > limit);
          const { stream, state } = tracked(chunks);
          await expect(readStreamLimited(stream, limit, 10_000)).rejects.toMatchObject({ status: 413 });
          expect(state.pulled).toBe(chunks.length);
          expect(state.cancelled).toBe(false);
        },
      ),
    );
  });

  it("cancels a body larger than the drain cap instead of reading it all", async () => {
    const chunks = Array.from({ length: 100 }, () => new Uint8Array(1024));
    const { stream, state } = tracked(chunks);
    await expect(readStreamLimited(stream, 100, 8 * 1024)).rejects.toMatchObject({ status: 413 });
    expect(state.cancelled).toBe(true);
    expect(state.pulled).toBeLessThan(chunks.length);
  });

  it("answers 413 when the sender breaks off while being drained", async () => {
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (++sent > 3) return controller.error(new Error("connection reset"));
        controller.enqueue(new Uint8Array(64));
      },
    });
    await expect(readStreamLimited(stream, 10)).rejects.toMatchObject({ status: 413 });
  });
});

describe("contentLength", () => {
  it("believes 1 to 15 digits and nothing else", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (n) => {
        expect(contentLength(String(n))).toBe(String(n).length <= 15 ? n : undefined);
      }),
    );
    fc.assert(
      fc.property(fc.string(), (text) => {
        const parsed = contentLength(text);
        if (parsed !== undefined) expect(String(parsed).padStart(text.length, "0")).toBe(text);
        else expect(/^\d{1,15}$/.test(text)).toBe(false);
      }),
    );
    for (const odd of [null, undefined, "", " 1", "1 ", "-1", "1e3", "0x10", "1.0"]) {
      expect(contentLength(odd)).toBeUndefined();
    }
  });
});
