import { ProblemError } from "@chittyconnect/contract";
import { DecodeError, decode, encode } from "@msgpack/msgpack";

/**
 * MessagePack ⇄ JSON for the edge's middleware (msgpack.ts): the conversions, their limits and
 * the `Accept` negotiation, free of Workers types so that the benchmark runs them in Node.
 */
export const MSGPACK_MEDIA_TYPE = "application/msgpack";
const MSGPACK_ALIASES = new Set([MSGPACK_MEDIA_TYPE, "application/x-msgpack", "application/vnd.msgpack"]);

/** Decoding limits, each well above what any route accepts, so only a hostile body meets them. */
export const MSGPACK_LIMITS = {
  maxDepth: 64,
  maxStrLength: 1024 * 1024,
  maxArrayLength: 100_000,
  maxMapLength: 10_000,
};

export function isMsgpackMediaType(header: string | null | undefined): boolean {
  return MSGPACK_ALIASES.has(header?.split(";", 1)[0]?.trim().toLowerCase() ?? "");
}

function invalidMsgpack(reason: string): ProblemError {
  return new ProblemError({
    status: 400,
    code: "invalid_msgpack",
    title: "Invalid MessagePack",
    detail: `The request body is not acceptable MessagePack: ${reason}.`,
  });
}

/**
 * A decoded value as JSON would hold it: null, booleans, finite numbers, strings, arrays and
 * string-keyed maps, at most `maxDepth` deep. Binary, extension types (timestamps included) and
 * non-finite floats have no JSON form and are refused rather than guessed at.
 */
function assertJsonValue(value: unknown, depth: number): void {
  if (depth > MSGPACK_LIMITS.maxDepth) throw invalidMsgpack(`nested deeper than ${MSGPACK_LIMITS.maxDepth}`);
  if (value === null || typeof value === "boolean" || typeof value === "string") return;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw invalidMsgpack("NaN and infinities have no JSON form");
    return;
  }
  if (Array.isArray(value)) {
    for (const item of value) assertJsonValue(item, depth + 1);
    return;
  }
  if (typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    for (const item of Object.values(value)) assertJsonValue(item, depth + 1);
    return;
  }
  throw invalidMsgpack("binary values and extension types have no JSON form");
}

/** MessagePack bytes → the same value as JSON text's bytes, or 400 `invalid_msgpack`. */
export function msgpackToJson(bytes: Uint8Array): Uint8Array {
  let value: unknown;
  try {
    value = decode(bytes, {
      maxStrLength: MSGPACK_LIMITS.maxStrLength,
      maxBinLength: MSGPACK_LIMITS.maxStrLength,
      maxArrayLength: MSGPACK_LIMITS.maxArrayLength,
      maxMapLength: MSGPACK_LIMITS.maxMapLength,
      maxExtLength: 0,
      mapKeyConverter: (key) => {
        if (typeof key !== "string") throw invalidMsgpack("map keys must be strings");
        return key;
      },
    });
  } catch (error) {
    if (error instanceof ProblemError) throw error;
    // The library's message can quote sizes and offsets only; still, say it in our words.
    throw invalidMsgpack(
      error instanceof DecodeError && /length|Max/i.test(error.message)
        ? "a string, binary, array, map or extension exceeds its limit"
        : "the bytes do not decode as one MessagePack value",
    );
  }
  assertJsonValue(value, 0);
  return new TextEncoder().encode(JSON.stringify(value));
}

/** JSON text → MessagePack bytes (integers as integers, other numbers as float64). */
export function jsonToMsgpack(text: string): Uint8Array {
  return encode(JSON.parse(text));
}

interface Range {
  type: string;
  subtype: string;
  q: number;
}

function parseAccept(header: string): Range[] {
  return header.split(",").flatMap((part) => {
    const [range = "", ...params] = part.split(";").map((piece) => piece.trim().toLowerCase());
    const [type, subtype] = range.split("/");
    if (!type || !subtype) return [];
    const weight = params.find((param) => param.startsWith("q="))?.slice(2);
    const q = weight === undefined ? 1 : Number(weight);
    return [{ type, subtype, q: Number.isFinite(q) ? Math.min(1, Math.max(0, q)) : 0 }];
  });
}

/** The weight `Accept` gives a media type: its most specific matching range's, 0 when none matches. */
function weight(ranges: Range[], mediaTypes: readonly string[]): number {
  let best = { specificity: -1, q: 0 };
  for (const range of ranges) {
    for (const mediaType of mediaTypes) {
      const [type, subtype] = mediaType.split("/");
      const specificity =
        range.type === type && range.subtype === subtype
          ? 2
          : range.type === type && range.subtype === "*"
            ? 1
            : range.type === "*" && range.subtype === "*"
              ? 0
              : -1;
      if (specificity > best.specificity) best = { specificity, q: range.q };
    }
  }
  return best.q;
}

/** MessagePack only when the client prefers it to JSON, or does not accept JSON at all. */
export function prefersMsgpack(accept: string | null | undefined): boolean {
  if (!accept) return false;
  const ranges = parseAccept(accept);
  const msgpack = weight(ranges, [...MSGPACK_ALIASES]);
  const json = weight(ranges, ["application/json"]);
  return msgpack > 0 && (msgpack > json || json === 0);
}
