import {
  AuditListResponseSchema,
  AuditQuerySchema,
  CredentialResponseSchema,
  IDEMPOTENCY_KEY_HEADER,
  IdempotencyKeySchema,
  ProvisionRequestSchema,
  RotateRequestSchema,
} from "@chittyconnect/contract";
import { createRoute } from "@hono/zod-openapi";
import type { z } from "zod";
import { type AuthContext, requireService } from "../auth/bearer.ts";
import type { Scope } from "../auth/scopes.ts";
import { readJsonBody } from "../json-body.ts";
import { headerParameter, input, jsonBody, openApiApp, problems, reply, scoped } from "../openapi-parts.ts";
import { OriginClient } from "../origin/client.ts";
import { idempotencyKeyFrom } from "./idempotency-key.ts";

const NO_STORE = { "cache-control": "no-store" };

const idempotencyKey = headerParameter(
  "Idempotency-Key",
  "Names this request for 24 h: a retry with the same key and body answers with the first result's " +
    "version (the value read again, never rotated twice); another body → 422; while the first runs → 409. " +
    "May be sent in double quotes.",
  input(IdempotencyKeySchema),
);

const EXAMPLE = {
  service: "chittyid",
  credentialPath: "services/chittyid/service_token",
  purpose: "nightly export",
};

function credentialRoute(path: string, scope: Scope, request: z.ZodType, summary: string) {
  return createRoute({
    method: "post",
    path,
    tags: ["credentials"],
    summary,
    ...scoped(scope),
    parameters: [idempotencyKey],
    request: { body: jsonBody(request, { example: EXAMPLE }) },
    responses: {
      200: reply("The credential and its lease", CredentialResponseSchema),
      ...problems(400, 401, 403, 404, 409, 413, 415, 422, 502, 503, 504),
    },
  });
}

const provision = credentialRoute(
  "/provision",
  "credentials:provision",
  ProvisionRequestSchema,
  "Fetch a credential",
);
const rotate = credentialRoute("/rotate", "credentials:rotate", RotateRequestSchema, "Rotate a credential");

/**
 * Audit is readable with credentials:provision (a caller may see the trail of what it fetched) or
 * usage:read (read-only reporting tokens that must never obtain secrets themselves).
 */
const audit = createRoute({
  method: "get",
  path: "/audit",
  tags: ["credentials"],
  summary: "The caller's audit trail, newest first",
  ...scoped("credentials:provision", "usage:read"),
  request: { query: AuditQuerySchema },
  responses: {
    200: reply("A page of audit entries", AuditListResponseSchema),
    ...problems(400, 401, 403, 502, 503, 504),
  },
});

export const credentialRoutes = openApiApp()
  .openapi(provision, async (c) => {
    const idempotencyKey = idempotencyKeyFrom(c.req.header(IDEMPOTENCY_KEY_HEADER));
    const input = { ...(await readJsonBody(c.req.raw, ProvisionRequestSchema)), idempotencyKey };
    requireService(c.get("auth"), input.service);
    const result = await OriginClient.fromEnv(c.env).provision(input, callContext(c.get("auth"), c));
    return c.json(result, 200, NO_STORE);
  })
  .openapi(rotate, async (c) => {
    const idempotencyKey = idempotencyKeyFrom(c.req.header(IDEMPOTENCY_KEY_HEADER));
    const input = { ...(await readJsonBody(c.req.raw, RotateRequestSchema)), idempotencyKey };
    requireService(c.get("auth"), input.service);
    const result = await OriginClient.fromEnv(c.env).rotate(input, callContext(c.get("auth"), c));
    return c.json(result, 200, NO_STORE);
  })
  .openapi(audit, async (c) => {
    const result = await OriginClient.fromEnv(c.env).audit(
      c.req.valid("query"),
      callContext(c.get("auth"), c),
    );
    return c.json(result, 200, NO_STORE);
  });

/** The owner and services travel in the signed hop; the origin's policy trusts nothing else. */
function callContext(auth: AuthContext, c: { get(key: "requestId"): string }) {
  return { owner: auth.owner, services: auth.services, requestId: c.get("requestId") };
}
