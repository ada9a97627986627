import { contentLength, drainUnreadBody } from "@chittyconnect/contract";
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv, EdgeBindings } from "../env.ts";
import { UsageBatcher } from "../usage/batch.ts";
import { entryRow, type UsageEntry, type UsageRow, utcDay } from "../usage/ledger.ts";
import { limiterStub, ownerKey } from "./rate-limit.ts";
import { routeClass } from "./route-class.ts";

const PROVISION_PATH = "/api/v1/credentials/provision";

const batcher = new UsageBatcher();

function writer(env: EdgeBindings, requestId: string) {
  return (owner: string, rows: UsageRow[]) =>
    limiterStub(env, ownerKey(owner))
      .record(rows)
      .catch((error: unknown) => {
        // Usage is an account, not a gate: a lost batch is logged, the answers stand.
        console.warn(
          JSON.stringify({
            level: "warn",
            msg: "usage entries lost",
            requestId,
            requests: rows.reduce((sum, row) => sum + row.requests, 0),
            error: error instanceof Error ? error.name : typeof error,
          }),
        );
      });
}

/** Writes what this isolate still holds of `owner`'s usage, so a report read next includes it. */
export function flushUsage(c: Context<AppEnv>, owner: string): Promise<void> {
  return batcher.flush(owner, writer(c.env, c.get("requestId")));
}

/**
 * Adds each request to its owner's daily ledger once its answer has been sent, off the answer's path
 * (`waitUntil`, batched per owner: usage/batch.ts). Bytes in and out are each body's Content-Length
 * or, when it has none, the bytes counted as they stream (for a request: what the route read of it).
 * `ownerOf` is read after the route answered; a request it names no owner for is not counted.
 */
function ledger(ownerOf: (c: Context<AppEnv>) => string | undefined) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const arrived = Date.now();
    const declaredIn = contentLength(c.req.header("content-length"));
    let bytesIn = declaredIn ?? 0;
    const raw = c.req.raw;
    let counted: Request | undefined;
    if (declaredIn === undefined && raw.body !== null) {
      // A chunked body: count what the route reads of it.
      const counter = new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          bytesIn += chunk.byteLength;
          controller.enqueue(chunk);
        },
      });
      counted = new Request(raw, { body: raw.body.pipeThrough(counter) });
      c.req.raw = counted;
    }
    await next();
    // The pipe holds the incoming body, so the Worker's own drain (index.ts) cannot reach it: an answer
    // given before the route read the body (429, 503, …) drains it here, through the count.
    if (counted && c.res.status >= 400) await drainUnreadBody(counted);
    const owner = ownerOf(c);
    if (owner === undefined) return;
    const pathname = new URL(c.req.url).pathname;
    const status = c.res.status;
    const entry: Omit<UsageEntry, "bytesOut"> = {
      day: utcDay(arrived),
      routeClass: routeClass(pathname),
      limited: status === 429,
      bytesIn,
      credentialProvisioned:
        c.req.method === "POST" && pathname === PROVISION_PATH && status >= 200 && status < 300,
    };
    const write = writer(c.env, c.get("requestId"));
    const record = (bytesOut: number) => {
      const written = batcher.add(owner, entryRow({ ...entry, bytesOut }), write);
      if (written) c.executionCtx.waitUntil(written);
    };
    const body = c.res.body;
    const length = contentLength(c.res.headers.get("content-length"));
    if (body === null || length !== undefined) {
      record(body === null ? 0 : (length as number));
      return;
    }
    // Recorded when the body ends or the client goes away (a cut download counts the bytes that
    // left), from inside the stream: the request is still alive while its answer streams.
    let bytes = 0;
    let recorded = false;
    const finish = () => {
      if (recorded) return;
      recorded = true;
      record(bytes);
    };
    const counter = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        bytes += chunk.byteLength;
        controller.enqueue(chunk);
      },
      flush: finish,
      cancel: finish,
    });
    c.res = new Response(body.pipeThrough(counter), c.res);
  });
}

/** After bearer auth and before the rate limit (so refused requests count too). */
export const usageLedger = ledger((c) => c.get("auth").owner);

/**
 * Presigned downloads need no token: they count for the document's owner, whom the verified link
 * names (`presignedOwner`, set by the cache and the route once the signature checked out). A forged
 * or expired link counts for no one.
 */
export const presignedUsage = ledger((c) => c.get("presignedOwner"));
