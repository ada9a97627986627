import { createExecutionContext, env } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { type ConfigReport, configReport } from "../src/flags/config-report.ts";
import { app } from "../src/index.ts";
import { ADMIN, BASE, call, jsonInit } from "./helpers.ts";
import { json } from "./sessions-helpers.ts";

type Bindings = typeof env;

async function reportWith(vars: Partial<Record<keyof Bindings, string>> = {}): Promise<ConfigReport> {
  const bindings = { ...env, ...vars } as Bindings;
  const response = await app.fetch(
    new Request(`${BASE}/api/v1/admin/config/validate`, {
      headers: { authorization: `Bearer ${bindings.ADMIN_TOKEN}` },
    }),
    bindings,
    createExecutionContext(),
  );
  return json<ConfigReport>(response, 200);
}

const section = (report: ConfigReport, name: string) => report.sections.find((entry) => entry.name === name);

function expectTotalsAddUp(report: ConfigReport) {
  const { total, valid, invalid, warnings } = report.totals;
  expect(total).toBe(report.sections.length);
  expect(valid + invalid + warnings).toBe(total);
  expect(valid).toBe(report.sections.filter((entry) => entry.status === "Valid").length);
}

describe("GET /api/v1/admin/config/validate", () => {
  afterEach(async () => {
    await call("/api/v1/admin/flags/msgpack", { method: "DELETE", headers: ADMIN });
  });

  it("reports the local test configuration: every section, nothing invalid, totals that add up", async () => {
    const report = await reportWith();
    expect(report.sections.map((entry) => entry.name)).toEqual([
      "core",
      "auth",
      "origin",
      "sessions",
      "documents",
      "flags",
      "rateLimits",
      "cors",
    ]);
    expect(report.totals.invalid).toBe(0);
    expect(section(report, "rateLimits")).toMatchObject({ status: "Valid" });
    expect(section(report, "rateLimits")?.details.join(" ")).toContain("credentials 100");
    expect(section(report, "cors")).toMatchObject({ status: "Valid" });
    expect(section(report, "core")?.status).toBe("Valid");
    // The test ADMIN_TOKEN has 16 bytes: enough in development only, which the report says.
    expect(section(report, "auth")).toMatchObject({ status: "Warning" });
    expect(section(report, "auth")?.details.join(" ")).toContain("development");
    expect(section(report, "flags")).toMatchObject({ status: "Valid", kvOverride: false });
    expectTotalsAddUp(report);
  });

  it("marks a section Invalid for a bad variable, naming it", async () => {
    const report = await reportWith({ DOCUMENT_QUOTA_COUNT: "many", SESSION_TIMEOUT: "5" });
    expect(section(report, "documents")?.status).toBe("Invalid");
    expect(section(report, "documents")?.details.join(" ")).toContain("DOCUMENT_QUOTA_COUNT");
    expect(section(report, "sessions")?.status).toBe("Invalid");
    expect(section(report, "sessions")?.details.join(" ")).toContain("SESSION_TIMEOUT");
    expect(report.totals.invalid).toBe(2);
    expectTotalsAddUp(report);
  });

  it("names a missing binding; flags then fall back to their defaults", async () => {
    const report = await reportWith({ FLAGS: undefined, DOCUMENT_INDEX: undefined } as Partial<
      Record<keyof Bindings, string>
    >);
    expect(section(report, "flags")).toMatchObject({
      status: "Invalid",
      details: expect.arrayContaining(["KV binding FLAGS is missing"]),
    });
    expect(section(report, "documents")?.details).toContain("Queue binding DOCUMENT_INDEX is missing");
    expect(report.totals.invalid).toBe(2);
    expectTotalsAddUp(report);
  });

  it("warns about a flag at 0 % and says a KV override applies", async () => {
    const zero = { enabled: true, rolloutPercentage: 0, allowedOwners: [] };
    expect((await call("/api/v1/admin/flags/msgpack", jsonInit("PUT", zero, ADMIN))).status).toBe(200);
    const report = await reportWith();
    expect(section(report, "flags")).toMatchObject({ status: "Warning", kvOverride: true });
    expect(section(report, "flags")?.details.join("\n")).toMatch(/msgpack: enabled at 0 %/);
    expectTotalsAddUp(report);
  });

  it("flags a disabled capability's section and a placeholder origin in a deployment", async () => {
    const report = await reportWith({
      ENVIRONMENT: "production",
      ADMIN_TOKEN: "a-production-admin-token-of-40-bytes-xyz",
      ORIGIN_URL: "https://origin.example.com",
      FEATURE_FLAGS: JSON.stringify({ r2Storage: { enabled: false } }),
    });
    expect(section(report, "origin")?.status).toBe("Warning");
    expect(section(report, "documents")).toMatchObject({ status: "Warning", kvOverride: false });
    // The test CORS_ORIGINS lists http://localhost:3000: fine in development, not in a deployment.
    expect(section(report, "cors")?.details.join(" ")).toContain("http://localhost:3000 is not https");
    expect(section(report, "auth")?.status).toBe("Valid");
    expectTotalsAddUp(report);
  });

  it("reports an invalid core configuration (which the route itself cannot serve) without flags", async () => {
    const report = await configReport({
      ...env,
      ORIGIN_URL: "ftp://origin",
      ADMIN_TOKEN: undefined,
    } as unknown as Bindings);
    expect(section(report, "core")?.status).toBe("Invalid");
    expect(section(report, "core")?.details.join(" ")).toContain("ORIGIN_URL");
    expect(section(report, "auth")?.status).toBe("Invalid");
    expect(section(report, "flags")?.status).toBe("Invalid");
    expect(section(report, "rateLimits")?.status).toBe("Invalid");
    expectTotalsAddUp(report);
  });

  it("never shows a secret's value or a prefix of it", async () => {
    // Random values, so that any 8 characters of one found in the body came from it.
    const random = () =>
      Array.from(crypto.getRandomValues(new Uint8Array(24)), (b) => b.toString(16).padStart(2, "0")).join("");
    const secrets = {
      ADMIN_TOKEN: random(),
      EDGE_SIGNING_KEY: random(),
      CF_ACCESS_CLIENT_ID: random(),
      CF_ACCESS_CLIENT_SECRET: random(),
      DOCUMENT_URL_SIGNING_KEY: random(),
    };
    const text = JSON.stringify(await reportWith(secrets));
    for (const value of Object.values(secrets)) {
      for (let start = 0; start + 8 <= value.length; start++)
        expect(text).not.toContain(value.slice(start, start + 8));
    }
  });
});
