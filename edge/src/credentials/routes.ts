import {
  AuditQuerySchema,
  IDEMPOTENCY_KEY_HEADER,
  ProvisionRequestSchema,
  RotateRequestSchema,
  validationProblem,
} from "@chittyconnect/contract";
import { Hono } from "hono";
import { type AuthContext, requireScope, requireService } from "../auth/bearer.ts";
import type { AppEnv } from "../env.ts";
import { readJsonBody } from "../json-body.ts";
import { OriginClient } from "../origin/client.ts";
import { idempotencyKeyFrom } from "./idempotency-key.ts";

const NO_STORE = { "cache-control": "no-store" };

/**
 * Audit is readable with credentials:provision (a caller may see the trail of what it fetched) or
 * usage:read (read-only reporting tokens that must never obtain secrets themselves).
 */
export const credentialRoutes = new Hono<AppEnv>()
  .post("/provision", requireScope("credentials:provision"), async (c) => {
    const idempotencyKey = idempotencyKeyFrom(c.req.header(IDEMPOTENCY_KEY_HEADER));
    const input = { ...(await readJsonBody(c.req.raw, ProvisionRequestSchema)), idempotencyKey };
    requireService(c.get("auth"), input.service);
    const result = await OriginClient.fromEnv(c.env).provision(input, callContext(c.get("auth"), c));
    return c.json(result, 200, NO_STORE);
  })
  .post("/rotate", requireScope("credentials:rotate"), async (c) => {
    const idempotencyKey = idempotencyKeyFrom(c.req.header(IDEMPOTENCY_KEY_HEADER));
    const input = { ...(await readJsonBody(c.req.raw, RotateRequestSchema)), idempotencyKey };
    requireService(c.get("auth"), input.service);
    const result = await OriginClient.fromEnv(c.env).rotate(input, callContext(c.get("auth"), c));
    return c.json(result, 200, NO_STORE);
  })
  .get("/audit", requireScope("credentials:provision", "usage:read"), async (c) => {
    const query = AuditQuerySchema.safeParse(c.req.query());
    if (!query.success) throw validationProblem(query.error, "Invalid query");
    const result = await OriginClient.fromEnv(c.env).audit(query.data, callContext(c.get("auth"), c));
    return c.json(result, 200, NO_STORE);
  });

/** The owner and services travel in the signed hop; the origin's policy trusts nothing else. */
function callContext(auth: AuthContext, c: { get(key: "requestId"): string }) {
  return { owner: auth.owner, services: auth.services, requestId: c.get("requestId") };
}
