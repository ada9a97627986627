import { createExecutionContext, env } from "cloudflare:test";
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { describe, expect, it, vi } from "vitest";
import type { AppEnv } from "../src/env.ts";
import { onError } from "../src/errors.ts";
import { app } from "../src/index.ts";
import { BASE, bearer } from "./helpers.ts";

describe("root error handler", () => {
  it("hides unexpected failures behind a generic 500 problem and logs them with the request id", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const brokenDb = {
      prepare() {
        throw new Error("database secret path /var/db");
      },
    } as unknown as D1Database;
    const response = await app.fetch(
      new Request(`${BASE}/api/v1/credentials/audit`, {
        headers: bearer(`cc_${"D".repeat(43)}`, { "x-request-id": "req-broken-db-1" }),
      }),
      { ...env, DB: brokenDb },
      createExecutionContext(),
    );
    expect(response.status).toBe(500);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    const text = await response.text();
    expect(text).not.toContain("secret");
    expect(JSON.parse(text)).toMatchObject({ code: "internal_error", requestId: "req-broken-db-1" });
    expect(logged).toHaveBeenCalledOnce();
    expect(JSON.parse(String(logged.mock.calls[0]?.[0]))).toMatchObject({ requestId: "req-broken-db-1" });
    logged.mockRestore();
  });

  it("turns a framework HTTPException for a client mistake into a problem with its status", async () => {
    const probe = new Hono<AppEnv>()
      .get("/x", () => {
        throw new HTTPException(405);
      })
      .onError(onError);
    const response = await probe.fetch(new Request(`${BASE}/x`), env, createExecutionContext());
    expect(response.status).toBe(405);
    expect(await response.json()).toMatchObject({ code: "http_405", title: "Method not allowed" });
  });
});
