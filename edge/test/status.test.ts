import { createExecutionContext, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { app } from "../src/index.ts";
import type { StatusReport } from "../src/status/routes.ts";
import { BASE, call } from "./helpers.ts";

describe("health and status", () => {
  it("reports healthy on /health", async () => {
    const response = await call("/health");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "healthy" });
  });

  it("reports ok when D1, the origin and Connect are ready, without a token", async () => {
    const response = await call("/api/v1/status");
    expect(response.status).toBe(200);
    const report = (await response.json()) as StatusReport;
    expect(report.status).toBe("ok");
    expect(report.checks.d1.ok).toBe(true);
    expect(report.checks.origin.ok).toBe(true);
    expect(report.checks.connect).toEqual({ ok: true, synced: true, latencyMs: 3 });
  });

  it("reports degraded with only an error code when the origin is down", async () => {
    const response = await app.fetch(
      new Request(`${BASE}/api/v1/status`),
      { ...env, ORIGIN_URL: env.CLOSED_PORT_URL },
      createExecutionContext(),
    );
    const report = (await response.json()) as StatusReport;
    expect(report.status).toBe("degraded");
    expect(report.checks.d1.ok).toBe(true);
    expect(report.checks.origin).toMatchObject({ ok: false, detail: "origin_unavailable" });
    expect(report.checks.connect).toEqual({ ok: false, synced: false, latencyMs: null });
    expect(JSON.stringify(report)).not.toContain(env.EDGE_SIGNING_KEY);
    expect(JSON.stringify(report)).not.toContain("127.0.0.1");
  });
});

describe("OpenAPI document", () => {
  it("is served without a token and generated from the contract schemas", async () => {
    const response = await call("/api/v1/openapi.json");
    expect(response.status).toBe(200);
    interface Schema {
      properties?: Record<string, unknown>;
      required?: string[];
    }
    const doc = (await response.json()) as {
      openapi: string;
      paths: Record<string, { post?: { requestBody: { content: Record<string, { schema: Schema }> } } }>;
    };
    expect(doc.openapi).toBe("3.1.0");
    const provision =
      doc.paths["/api/v1/credentials/provision"]?.post?.requestBody.content["application/json"]?.schema;
    expect(Object.keys(provision?.properties ?? {})).toEqual([
      "service",
      "credentialPath",
      "purpose",
      "recipientPublicKey",
    ]);
    expect(provision?.required).toEqual(["service", "credentialPath", "purpose"]);
  });
});
