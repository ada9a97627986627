import { Headers } from "@chittyconnect/contract";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "./env.ts";

// Incoming ids end up in logs and in the origin's audit trail, so only short, plain ones are kept.
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/;

export function chooseRequestId(incoming: string | undefined | null): string {
  return incoming && SANE_REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
}

export const requestId = createMiddleware<AppEnv>(async (c, next) => {
  const id = chooseRequestId(c.req.header(Headers.requestId));
  c.set("requestId", id);
  await next();
  c.res.headers.set(Headers.requestId, id);
});
