import { isJsonMediaType, ProblemError, problemResponse, readRequestLimited } from "@chittyconnect/contract";
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env.ts";
import { msgpackBodyRefused } from "../flags/problems.ts";
import { FlagStore } from "../flags/store.ts";
import { LIMITS } from "../sessions/limits.ts";
import {
  isMsgpackMediaType,
  jsonToMsgpack,
  MSGPACK_MEDIA_TYPE,
  msgpackToJson,
  prefersMsgpack,
} from "./msgpack-codec.ts";

/**
 * MessagePack on every JSON route, in both directions, as one middleware:
 * - a request body sent as `application/msgpack` is decoded into the JSON the route expects, so
 *   routes only ever read JSON; the route's own body limit then applies to that JSON;
 * - an `application/json` answer is re-encoded when `Accept` prefers MessagePack to JSON (or
 *   JSON is not acceptable at all).
 * Problems (`application/problem+json`) always stay JSON: every layer, the edge's own error
 * handler and the hops behind it, answers them in that one form, and clients read it without
 * first learning how the request went. Streamed document bytes are never touched.
 */

/** The largest MessagePack body read at all: the largest JSON body any route accepts (an import). */
export const MAX_MSGPACK_BODY_BYTES = LIMITS.importBodyBytes;

/** Routes whose bodies are document bytes (any media type, MessagePack files included), both ways. */
const STREAMING =
  /^\/api\/v1\/documents\/(?:upload|presigned\/.*|[^/]+\/(?:content|download)|multipart\/[^/]+\/parts\/[^/]+)$/;

function msgpackOn(c: Context<AppEnv>): Promise<boolean> {
  // The owner is known once bearer auth has run; admin and unauthenticated routes have none.
  const owner: string | undefined = c.get("auth")?.owner;
  return FlagStore.fromEnv(c.env).isOn("msgpack", owner);
}

/**
 * The request with a JSON body in place of its MessagePack one. The conversion runs when the route
 * reads the body, after authentication: an unauthenticated request is never decoded, and the
 * `msgpack` flag is evaluated for the caller's owner.
 */
function jsonBodied(c: Context<AppEnv>, original: Request, failed: (problem: ProblemError) => void): Request {
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          if (!(await msgpackOn(c))) throw msgpackBodyRefused();
          controller.enqueue(msgpackToJson(await readRequestLimited(original, MAX_MSGPACK_BODY_BYTES)));
          controller.close();
        } catch (error) {
          if (error instanceof ProblemError) failed(error);
          controller.error(error);
        }
      },
    },
    { highWaterMark: 0 },
  );
  const headers = new Headers(original.headers);
  headers.set("content-type", "application/json");
  headers.delete("content-length");
  return new Request(original.url, { method: original.method, headers, body });
}

export const msgpack = createMiddleware<AppEnv>(async (c, next) => {
  if (STREAMING.test(new URL(c.req.url).pathname)) return next();
  let bodyProblem: ProblemError | undefined;
  if (isMsgpackMediaType(c.req.header("content-type")) && c.req.raw.body !== null) {
    c.req.raw = jsonBodied(c, c.req.raw, (problem) => {
      bodyProblem = problem;
    });
  }
  await next();
  // The route failed reading the body: answer with the conversion's own problem, whatever shape
  // the stream error took on its way through the runtime.
  if (bodyProblem && c.error) {
    c.res = undefined;
    c.res = problemResponse(bodyProblem.toProblem(c.get("requestId")), bodyProblem.headers);
    return;
  }
  if (!isJsonMediaType(c.res.headers.get("content-type"))) return;
  const negotiated = prefersMsgpack(c.req.header("accept")) && (await msgpackOn(c));
  const headers = new Headers(c.res.headers);
  headers.append("vary", "Accept");
  const { status, statusText } = c.res;
  const body = negotiated ? jsonToMsgpack(await c.res.text()) : c.res.body;
  if (negotiated) {
    headers.set("content-type", MSGPACK_MEDIA_TYPE);
    headers.delete("content-length");
  }
  c.res = undefined;
  c.res = new Response(body, { status, statusText, headers });
});
