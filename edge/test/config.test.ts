import { createExecutionContext, env } from "cloudflare:test";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EdgeConfigSchema, EdgeVarsSchema, ORIGIN_TIMEOUT_DEFAULT_MS } from "../src/config.ts";
import { app } from "../src/index.ts";
import { BASE } from "./helpers.ts";

/** The Worker's real fetch with this environment, as a deploy with these vars/secrets would run. */
async function problemWith(overrides: Record<string, string | undefined>, path = "/health") {
  const response = await app.fetch(
    new Request(`${BASE}${path}`),
    { ...env, ...overrides },
    createExecutionContext(),
  );
  return { response, body: (await response.json()) as Record<string, unknown> };
}

describe("edge configuration", () => {
  it.each([
    ["abc", "not a number"],
    ["0", "zero"],
    ["-5", "negative"],
    ["60001", "above the maximum"],
    ["1e3", "exponent"],
    ["", "empty"],
  ])("answers the first request with edge_misconfigured for ORIGIN_TIMEOUT_MS=%j (%s)", async (value) => {
    const { response, body } = await problemWith({ ORIGIN_TIMEOUT_MS: value });
    expect(response.status).toBe(500);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    expect(body.code).toBe("edge_misconfigured");
    expect(body.detail).toContain("ORIGIN_TIMEOUT_MS must be an integer from 1 to 60000");
    expect(typeof body.requestId).toBe("string");
  });

  it("names a short signing key without showing it, on every route", async () => {
    for (const path of ["/health", "/api/v1/status", "/api/v1/credentials/audit"]) {
      const { response, body } = await problemWith({ EDGE_SIGNING_KEY: "short-signing-key" }, path);
      expect(response.status, path).toBe(500);
      expect(body.code).toBe("edge_misconfigured");
      expect(body.detail).toContain("EDGE_SIGNING_KEY: EDGE_SIGNING_KEY must be at least 32 bytes");
      expect(JSON.stringify(body)).not.toContain("short-signing-key");
    }
  });

  it("names every problem at once: missing admin token, half an Access service token, a bad URL", async () => {
    const { body } = await problemWith({
      ADMIN_TOKEN: undefined,
      CF_ACCESS_CLIENT_SECRET: undefined,
      ORIGIN_URL: "origin.example.com",
    });
    expect(body.detail).toContain("ADMIN_TOKEN: ADMIN_TOKEN is required");
    expect(body.detail).toContain("CF_ACCESS_CLIENT_SECRET: CF_ACCESS_CLIENT_ID and CF_ACCESS_CLIENT_SECRET");
    expect(body.detail).toContain("ORIGIN_URL: ORIGIN_URL must be an http(s) URL");
  });

  it("serves as usual with the test configuration", async () => {
    const response = await app.fetch(new Request(`${BASE}/health`), env, createExecutionContext());
    expect(response.status).toBe(200);
  });

  it("takes the documented default only when ORIGIN_TIMEOUT_MS is absent", () => {
    const vars = EdgeVarsSchema.parse({ ORIGIN_URL: "https://origin.chitty.cc" });
    expect(vars.ORIGIN_TIMEOUT_MS).toBe(ORIGIN_TIMEOUT_DEFAULT_MS);
  });

  it("accepts exactly the integers 1..60000 written plainly", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60_000 }), (ms) => {
        expect(
          EdgeVarsSchema.parse({ ORIGIN_URL: "https://o.test", ORIGIN_TIMEOUT_MS: String(ms) })
            .ORIGIN_TIMEOUT_MS,
        ).toBe(ms);
      }),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 8 }), (text) => {
        const ok = /^\d{1,6}$/.test(text) && Number(text) >= 1 && Number(text) <= 60_000;
        expect(
          EdgeVarsSchema.safeParse({ ORIGIN_URL: "https://o.test", ORIGIN_TIMEOUT_MS: text }).success,
        ).toBe(ok);
      }),
    );
  });

  it("validates the full configuration the tests run with", () => {
    expect(EdgeConfigSchema.safeParse(env).success).toBe(true);
  });
});
