import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { app } from "../src/index.ts";
import { BASE, bearer, call, env, mintToken, uniqueOwner } from "./helpers.ts";

describe("bearer authentication on /api/v1", () => {
  it.each([
    ["missing", undefined],
    ["not bearer", "Basic dXNlcjpwYXNz"],
    ["malformed", "Bearer cc_short"],
    ["unknown", `Bearer cc_${"C".repeat(43)}`],
  ])("answers 401 with WWW-Authenticate for a %s token", async (_name, authorization) => {
    const response = await call("/api/v1/credentials/audit", {
      headers: authorization ? { authorization } : {},
    });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toMatch(/^Bearer realm=/);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    const problem = (await response.json()) as { code: string; detail: string; requestId: string };
    expect(problem.code).toBe("unauthorized");
    expect(problem.detail).toBe("A valid bearer token is required.");
    expect(problem.requestId).toBe(response.headers.get("x-request-id"));
  });

  it("answers 403 naming the scope the token lacks", async () => {
    const minted = await mintToken(uniqueOwner(), ["usage:read"]);
    const response = await call("/api/v1/credentials/rotate", {
      method: "POST",
      headers: bearer(minted.token, { "content-type": "application/json" }),
      body: "{}",
    });
    expect(response.status).toBe(403);
    const problem = (await response.json()) as { code: string; detail: string };
    expect(problem.code).toBe("insufficient_scope");
    expect(problem.detail).toContain("credentials:rotate");
  });

  it("refuses an X-ChittyID that differs from the token's owner", async () => {
    const owner = uniqueOwner();
    const minted = await mintToken(owner, ["usage:read"]);
    const mismatch = await call("/api/v1/credentials/audit", {
      headers: bearer(minted.token, { "x-chittyid": uniqueOwner() }),
    });
    expect(mismatch.status).toBe(403);
    expect(((await mismatch.json()) as { code: string }).code).toBe("owner_mismatch");
    const matching = await call("/api/v1/credentials/audit", {
      headers: bearer(minted.token, { "x-chittyid": owner }),
    });
    expect(matching.status).toBe(200);
  });

  it("records when a token was last used, after the answer", async () => {
    const minted = await mintToken(uniqueOwner(), ["usage:read"]);
    const ctx = createExecutionContext();
    const response = await app.fetch(
      new Request(`${BASE}/api/v1/credentials/audit`, { headers: bearer(minted.token) }),
      env,
      ctx,
    );
    expect(response.status).toBe(200);
    await waitOnExecutionContext(ctx);
    const row = await env.DB.prepare("SELECT last_used_at FROM api_tokens WHERE id = ?")
      .bind(minted.id)
      .first<{ last_used_at: string | null }>();
    expect(row?.last_used_at).not.toBeNull();
  });

  it("serves a valid request when writing last_used_at fails", async () => {
    const minted = await mintToken(uniqueOwner(), ["usage:read"]);
    // D1 refusing the write (as on a full or read-only database) while reads still work.
    await env.DB.exec(
      "CREATE TRIGGER fail_last_used BEFORE UPDATE OF last_used_at ON api_tokens BEGIN SELECT RAISE(ABORT, 'write refused'); END;",
    );
    try {
      const ctx = createExecutionContext();
      const response = await app.fetch(
        new Request(`${BASE}/api/v1/credentials/audit`, { headers: bearer(minted.token) }),
        env,
        ctx,
      );
      await waitOnExecutionContext(ctx);
      expect(response.status).toBe(200);
      const row = await env.DB.prepare("SELECT last_used_at FROM api_tokens WHERE id = ?")
        .bind(minted.id)
        .first<{ last_used_at: string | null }>();
      expect(row?.last_used_at).toBeNull();
    } finally {
      await env.DB.exec("DROP TRIGGER fail_last_used;");
    }
  });
});

describe("request ids and unknown routes", () => {
  it("answers unknown routes with a 404 problem", async () => {
    const response = await call("/nowhere");
    expect(response.status).toBe(404);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    expect(((await response.json()) as { code: string }).code).toBe("not_found");
  });

  it("answers unknown authenticated API routes with 404", async () => {
    const minted = await mintToken(uniqueOwner(), ["usage:read"]);
    const response = await call("/api/v1/nowhere", { headers: bearer(minted.token) });
    expect(response.status).toBe(404);
  });

  it("keeps a sane incoming request id and replaces an unsafe one", async () => {
    const kept = await call("/health", { headers: { "x-request-id": "req-12345678" } });
    expect(kept.headers.get("x-request-id")).toBe("req-12345678");
    const replaced = await call("/health", { headers: { "x-request-id": "bad id with spaces" } });
    expect(replaced.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });
});
