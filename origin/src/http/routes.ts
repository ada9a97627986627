import {
  AuditQuerySchema,
  OriginCredentialRequestSchema,
  parseJsonBytes,
  validationProblem,
} from "@chittyconnect/contract";
import { Hono } from "hono";
import type { z } from "zod";
import type { CredentialService } from "../credentials/service.ts";
import type { OriginMetrics } from "../metrics.ts";
import type { OriginEnv } from "./env.ts";

function parseBody<T extends z.ZodType>(schema: T, body: Uint8Array): z.infer<T> {
  const parsed = schema.safeParse(parseJsonBytes(body));
  if (!parsed.success) throw validationProblem(parsed.error);
  return parsed.data;
}

/** The signed /v1 API; authentication already happened in the middlewares. */
export function credentialRoutes(credentials: CredentialService): Hono<OriginEnv> {
  const routes = new Hono<OriginEnv>();
  routes.post("/credentials/provision", async (c) => {
    const request = parseBody(OriginCredentialRequestSchema, c.var.body);
    const caller = { owner: c.var.owner, services: c.var.services, requestId: c.var.requestId };
    return c.json(await credentials.provision(caller, request), 200, { "cache-control": "no-store" });
  });
  routes.post("/credentials/rotate", async (c) => {
    const request = parseBody(OriginCredentialRequestSchema, c.var.body);
    const caller = { owner: c.var.owner, services: c.var.services, requestId: c.var.requestId };
    return c.json(await credentials.rotate(caller, request), 200, { "cache-control": "no-store" });
  });
  routes.get("/audit", async (c) => {
    const parsed = AuditQuerySchema.safeParse({ limit: c.req.query("limit"), before: c.req.query("before") });
    if (!parsed.success) throw validationProblem(parsed.error, "Invalid audit query");
    return c.json(await credentials.audit(c.var.owner, parsed.data), 200, { "cache-control": "no-store" });
  });
  return routes;
}

/** Unsigned operational endpoints: liveness, readiness and Prometheus metrics. */
export function operationalRoutes(credentials: CredentialService, metrics: OriginMetrics): Hono<OriginEnv> {
  const routes = new Hono<OriginEnv>();
  routes.get("/healthz", (c) => c.json({ status: "ok" }, 200, { "cache-control": "no-store" }));
  routes.get("/readyz", async (c) => {
    const readiness = await credentials.readiness();
    return c.json(readiness, readiness.status === "ready" ? 200 : 503, { "cache-control": "no-store" });
  });
  routes.get("/metrics", async (c) => {
    const text = await metrics.registry.metrics();
    return c.body(text, 200, { "content-type": metrics.registry.contentType, "cache-control": "no-store" });
  });
  return routes;
}
