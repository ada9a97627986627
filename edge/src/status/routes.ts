import { ProblemError } from "@chittyconnect/contract";
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { DocumentChecksSchema, documentChecks } from "../documents/status.ts";
import type { EdgeBindings } from "../env.ts";
import { openApiApp, PUBLIC, reply } from "../openapi-parts.ts";
import { OriginClient } from "../origin/client.ts";
import { checkSessions, SessionsCheckSchema } from "../sessions/status.ts";

export const StatusReportSchema = z.object({
  status: z.enum(["ok", "degraded"]),
  checks: z
    .object({
      d1: z.object({ ok: z.boolean(), latencyMs: z.number() }),
      origin: z.object({ ok: z.boolean(), latencyMs: z.number(), detail: z.string().optional() }),
      /** latencyMs is null when the origin could not be asked. */
      connect: z.object({ ok: z.boolean(), synced: z.boolean(), latencyMs: z.number().nullable() }),
      sessions: SessionsCheckSchema,
    })
    .extend(DocumentChecksSchema.shape),
});
export type StatusReport = z.infer<typeof StatusReportSchema>;

export const HealthSchema = z.object({ status: z.literal("healthy") });

async function timed<T>(work: () => Promise<T>): Promise<{ value?: T; error?: unknown; latencyMs: number }> {
  const started = performance.now();
  try {
    const value = await work();
    return { value, latencyMs: Math.round(performance.now() - started) };
  } catch (error) {
    return { error, latencyMs: Math.round(performance.now() - started) };
  }
}

/** Only codes reach the page: the origin's details could name hosts or paths. */
function failureCode(error: unknown): string {
  return error instanceof ProblemError ? error.code : "check_failed";
}

export async function collectStatus(env: EdgeBindings, requestId: string): Promise<StatusReport> {
  const [d1, origin, sessions, documents] = await Promise.all([
    timed(() => env.DB.prepare("SELECT 1 AS one").first<{ one: number }>()),
    timed(() => OriginClient.fromEnv(env).readiness(requestId)),
    checkSessions(env),
    documentChecks(env, timed),
  ]);
  const d1Ok = d1.value?.one === 1;
  const readiness = origin.value;
  const connect = readiness
    ? {
        ok: readiness.connect.reachable && readiness.connect.synced,
        synced: readiness.connect.synced,
        latencyMs: readiness.connect.latencyMs,
      }
    : { ok: false, synced: false, latencyMs: null };
  const originCheck = readiness
    ? { ok: true, latencyMs: origin.latencyMs }
    : { ok: false, latencyMs: origin.latencyMs, detail: failureCode(origin.error) };
  return {
    status:
      d1Ok && originCheck.ok && connect.ok && sessions.ok && documents.r2.ok && documents.queue.ok
        ? "ok"
        : "degraded",
    checks: {
      d1: { ok: d1Ok, latencyMs: d1.latencyMs },
      origin: originCheck,
      connect,
      sessions,
      ...documents,
    },
  };
}

const health = createRoute({
  method: "get",
  path: "/health",
  tags: ["operations"],
  summary: "Liveness of the edge alone",
  security: PUBLIC,
  responses: { 200: reply("The edge is running", HealthSchema) },
});

const status = createRoute({
  method: "get",
  path: "/api/v1/status",
  tags: ["operations"],
  summary: "Health of every hop: D1, R2, the queue, Durable Objects, the origin, 1Password Connect",
  security: PUBLIC,
  responses: { 200: reply("ok or degraded, per check", StatusReportSchema) },
});

export const healthRoutes = openApiApp()
  .openapi(health, (c) =>
    c.json({ status: "healthy" as const }, 200, {
      "cache-control": "no-store",
      ...(c.env.INSTANCE_ID ? { "x-instance-id": c.env.INSTANCE_ID } : {}),
    }),
  )
  .openapi(status, async (c) =>
    c.json(await collectStatus(c.env, c.get("requestId")), 200, { "cache-control": "no-store" }),
  );
