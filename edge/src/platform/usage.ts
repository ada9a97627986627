import { drainUnreadBody } from "@chittyconnect/contract";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env.ts";
import { type UsageEntry, utcDay } from "../usage/ledger.ts";
import { limiterStub, ownerKey } from "./rate-limit.ts";
import { routeClass } from "./route-class.ts";

const PROVISION_PATH = "/api/v1/credentials/provision";

/** A Content-Length worth believing; anything else counts as unknown. */
function declaredLength(value: string | null | undefined): number | undefined {
  return value !== null && value !== undefined && /^\d{1,15}$/.test(value) ? Number(value) : undefined;
}

/**
 * After bearer auth and before the rate limit (so refused requests count too): adds each request to
 * its owner's daily ledger once its answer has been sent, off the answer's path (`waitUntil`).
 * Bytes in and out are each body's Content-Length or, when it has none, the bytes counted as they
 * stream (for a request: what the route read of it).
 */
export const usageLedger = createMiddleware<AppEnv>(async (c, next) => {
  const arrived = Date.now();
  const declaredIn = declaredLength(c.req.header("content-length"));
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
  const { owner } = c.get("auth");
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
  const requestId = c.get("requestId");
  const record = (bytesOut: number) =>
    limiterStub(c.env, ownerKey(owner))
      .record({ ...entry, bytesOut })
      .catch((error: unknown) => {
        // Usage is an account, not a gate: a lost entry is logged, the answer stands.
        console.warn(
          JSON.stringify({
            level: "warn",
            msg: "usage entry lost",
            requestId,
            error: error instanceof Error ? error.name : typeof error,
          }),
        );
      });
  const body = c.res.body;
  const length = declaredLength(c.res.headers.get("content-length"));
  if (body === null || length !== undefined) {
    c.executionCtx.waitUntil(record(body === null ? 0 : (length as number)));
    return;
  }
  // Recorded when the body ends or the client goes away (a cut download counts the bytes that
  // left), from inside the stream: the request is still alive while its answer streams.
  let bytes = 0;
  let recorded = false;
  const finish = () => {
    if (recorded) return;
    recorded = true;
    c.executionCtx.waitUntil(record(bytes));
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
