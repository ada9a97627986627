import { randomUUID } from "node:crypto";
import { gunzipSync, gzipSync } from "node:zlib";
import { decode, encode } from "@msgpack/msgpack";
import { SearchResultSchema } from "../edge/src/documents/schemas.ts";
import { jsonToMsgpack, msgpackToJson } from "../edge/src/platform/msgpack-codec.ts";

/**
 * MessagePack against JSON on a 1,000-document listing shaped (and checked) by the edge's own
 * `SearchResultSchema`: bytes, encode and decode time, and the same for gzip'd JSON (node:zlib,
 * level 6, what a CDN or `Content-Encoding: gzip` would give). JSON is the baseline of the ratios.
 * Also what the edge itself pays per answer and per request body: JSON text → MessagePack and
 * back, as the middleware converts. BENCH_ITERATIONS (200) scales it.
 */
const iterations = Number(process.env.BENCH_ITERATIONS ?? 200);
const COUNT = 1_000;
const hex = (n: number) =>
  Array.from({ length: n }, () => "0123456789abcdef"[Math.floor(Math.random() * 16)]).join("");
const owner = "01-C-PROD-0001-P-2501-A-X";
const types = ["evidence", "cases", "attachments"] as const;

const listing = SearchResultSchema.parse({
  documents: Array.from({ length: COUNT }, (_, i) => {
    const at = new Date(Date.UTC(2026, 10, 1) + i * 61_000).toISOString();
    return {
      id: randomUUID(),
      owner,
      type: types[i % 3],
      name: `exhibit-${String(i).padStart(4, "0")}-deposition transcript.pdf`,
      mimeType: "application/pdf",
      size: 48_213 + i * 977,
      sha256: hex(64),
      version: 1 + (i % 4),
      etag: `"${hex(32)}"`,
      metadata: {
        case: `2026-CV-${1000 + (i % 37)}`,
        court: "N.D. Ill.",
        page_count: 12 + (i % 90),
        sealed: i % 5 === 0,
      },
      tags: ["discovery", `batch-${i % 12}`],
      indexStatus: i % 10 === 0 ? "pending" : "indexed",
      access: "owner",
      createdAt: at,
      updatedAt: at,
      snippet: i % 4 === 0 ? null : `…the witness stated that the shipment of ${i} units arrived on…`,
    };
  }),
  nextCursor: "eyJ1cGRhdGVkQXQiOiIyMDI2LTExLTAxVDE2OjQwOjAwLjAwMFoiLCJpZCI6IjAwMDAifQ",
});

/** Microseconds per call: the median of seven rounds, so one GC pause or a busy neighbour counts once. */
function time(run: () => unknown): number {
  const perRound = Math.max(1, Math.round(iterations / 7));
  for (let i = 0; i < perRound; i++) run();
  const rounds = Array.from({ length: 7 }, () => {
    const started = performance.now();
    for (let i = 0; i < perRound; i++) run();
    return ((performance.now() - started) * 1000) / perRound;
  }).sort((a, b) => a - b);
  return rounds[3] ?? Number.NaN;
}

const jsonText = JSON.stringify(listing);
const jsonBytes = Buffer.from(jsonText);
const packed = encode(listing);
const gzipped = gzipSync(jsonBytes);
const gzippedPacked = gzipSync(packed);

const rows = [
  {
    name: "JSON",
    bytes: jsonBytes.byteLength,
    encode: time(() => Buffer.from(JSON.stringify(listing))),
    decode: time(() => JSON.parse(jsonBytes.toString("utf8"))),
  },
  {
    name: "MessagePack",
    bytes: packed.byteLength,
    encode: time(() => encode(listing)),
    decode: time(() => decode(packed)),
  },
  {
    name: "gzip'd JSON",
    bytes: gzipped.byteLength,
    encode: time(() => gzipSync(Buffer.from(JSON.stringify(listing)))),
    decode: time(() => JSON.parse(gunzipSync(gzipped).toString("utf8"))),
  },
  {
    name: "gzip'd MessagePack",
    bytes: gzippedPacked.byteLength,
    encode: time(() => gzipSync(encode(listing))),
    decode: time(() => decode(gunzipSync(gzippedPacked))),
  },
];
const [json] = rows;
if (!json) throw new Error("no baseline");
console.log(
  `A ${COUNT}-document listing (SearchResultSchema), ${iterations} iterations each (median of 7 rounds); ratios against JSON`,
);
console.log("  format               bytes   vs JSON   encode µs   vs JSON   decode µs   vs JSON");
for (const row of rows) {
  console.log(
    `  ${row.name.padEnd(18)} ${String(row.bytes).padStart(7)} ${(row.bytes / json.bytes).toFixed(2).padStart(8)}× ${row.encode.toFixed(0).padStart(11)} ${(row.encode / json.encode).toFixed(2).padStart(8)}× ${row.decode.toFixed(0).padStart(11)} ${(row.decode / json.decode).toFixed(2).padStart(8)}×`,
  );
}
const smallest = [...rows].sort((a, b) => a.bytes - b.bytes)[0];
const fastest = [...rows].sort((a, b) => a.encode + a.decode - (b.encode + b.decode))[0];
console.log(`  smallest: ${smallest?.name}; fastest encode + decode: ${fastest?.name}`);

// What the edge adds: its answers start as JSON text, its routes read JSON text.
const answer = time(() => jsonToMsgpack(jsonText));
const body = time(() => msgpackToJson(packed));
console.log("\nThe edge's conversions on the same listing (the middleware's per-request cost)");
console.log(`  JSON text → MessagePack (an answer):     ${answer.toFixed(0).padStart(6)} µs`);
console.log(
  `  MessagePack → JSON bytes (a request):    ${body.toFixed(0).padStart(6)} µs (decode, JSON-shape check, stringify)`,
);
