import { sha256Hex } from "@chittyconnect/contract";
import { describe, expect, it } from "vitest";
import { ADMIN, bearer, call, env, jsonInit, mintToken, uniqueOwner } from "./helpers.ts";

describe("admin token API", () => {
  it("mints a token that is shown once and stored only as its SHA-256", async () => {
    const owner = uniqueOwner();
    const minted = await mintToken(owner, ["credentials:provision", "usage:read"], { label: "ci" });
    expect(minted.token).toMatch(/^cc_[A-Za-z0-9_-]{43}$/);
    expect(minted.owner).toBe(owner);
    expect(minted.scopes).toEqual(["credentials:provision", "usage:read"]);
    // No expiresInSeconds: the default maximum lifetime (TOKEN_MAX_LIFETIME_SECONDS, 90 days).
    expect(Date.parse(minted.expiresAt ?? "") - Date.now()).toBeGreaterThan(90 * 86_400_000 - 60_000);

    const row = await env.DB.prepare("SELECT * FROM api_tokens WHERE id = ?").bind(minted.id).first();
    expect(row).not.toBeNull();
    expect(row?.token_hash).toBe(await sha256Hex(minted.token));
    expect(Object.values(row ?? {})).not.toContain(minted.token);
    expect(row?.label).toBe("ci");
  });

  it("binds credential tokens to the services named at mint, and lists them", async () => {
    const owner = uniqueOwner();
    const minted = await mintToken(owner, ["credentials:rotate"], { services: ["chittyid", "billing"] });
    expect(minted.services).toEqual(["billing", "chittyid"]);
    const reader = await mintToken(owner, ["usage:read"]);
    expect(reader.services).toBeNull();
    const listed = await call(`/api/v1/admin/tokens?owner=${owner}`, { headers: ADMIN });
    const { tokens } = (await listed.json()) as { tokens: { id: string; services: string[] | null }[] };
    expect(tokens.map((token) => [token.id, token.services])).toEqual([
      [minted.id, ["billing", "chittyid"]],
      [reader.id, null],
    ]);
  });

  it.each([
    ["no services with a credentials scope", { scopes: ["credentials:provision"] }],
    ["an empty list", { scopes: ["credentials:provision"], services: [] }],
    ['"*" beside a name', { scopes: ["credentials:provision"], services: ["*", "billing"] }],
    ["a repeated service", { scopes: ["credentials:rotate"], services: ["billing", "billing"] }],
    ["a malformed name", { scopes: ["credentials:rotate"], services: ["Billing!"] }],
    ["services without a credentials scope", { scopes: ["usage:read"], services: ["billing"] }],
  ])("refuses to mint with %s", async (_case, body) => {
    const response = await call(
      "/api/v1/admin/tokens",
      jsonInit("POST", { owner: uniqueOwner(), ...body }, ADMIN),
    );
    expect(response.status).toBe(400);
    const problem = (await response.json()) as { code: string; errors: { path: string }[] };
    expect(problem.code).toBe("validation_failed");
    expect(problem.errors.map((error) => error.path.split(".")[0])).toContain("services");
  });

  it("lists tokens for an owner without hashes or tokens, paged", async () => {
    const owner = uniqueOwner();
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await mintToken(owner, ["usage:read"])).id);

    const first = await call(`/api/v1/admin/tokens?owner=${owner}&limit=2`, { headers: ADMIN });
    expect(first.status).toBe(200);
    const page1 = (await first.json()) as { tokens: Record<string, unknown>[]; nextCursor?: string };
    expect(page1.tokens).toHaveLength(2);
    expect(page1.nextCursor).toBeTypeOf("string");
    for (const token of page1.tokens) {
      expect(Object.keys(token)).not.toContain("token");
      expect(Object.keys(token)).not.toContain("tokenHash");
      expect(Object.keys(token)).not.toContain("token_hash");
    }
    const second = await call(
      `/api/v1/admin/tokens?owner=${owner}&limit=2&cursor=${encodeURIComponent(page1.nextCursor ?? "")}`,
      { headers: ADMIN },
    );
    const page2 = (await second.json()) as { tokens: { id: string }[]; nextCursor?: string };
    expect(page2.tokens).toHaveLength(1);
    expect(page2.nextCursor).toBeUndefined();
    expect([...page1.tokens.map((t) => t.id), ...page2.tokens.map((t) => t.id)].sort()).toEqual(ids.sort());
  });

  it("rejects a list limit above 100 and a forged cursor", async () => {
    const tooMany = await call("/api/v1/admin/tokens?limit=101", { headers: ADMIN });
    expect(tooMany.status).toBe(400);
    expect(tooMany.headers.get("content-type")).toBe("application/problem+json");
    const forged = await call("/api/v1/admin/tokens?cursor=bm90LWpzb24", { headers: ADMIN });
    expect(forged.status).toBe(400);
    expect(((await forged.json()) as { code: string }).code).toBe("invalid_cursor");
  });

  it("revokes idempotently and answers 404 for unknown ids", async () => {
    const minted = await mintToken(uniqueOwner(), ["usage:read"]);
    const before = await call("/api/v1/credentials/audit", { headers: bearer(minted.token) });
    expect(before.status).toBe(200);

    for (let i = 0; i < 2; i++) {
      const revoked = await call(`/api/v1/admin/tokens/${minted.id}`, { method: "DELETE", headers: ADMIN });
      expect(revoked.status).toBe(204);
    }
    const after = await call("/api/v1/credentials/audit", { headers: bearer(minted.token) });
    expect(after.status).toBe(401);

    const unknown = await call(`/api/v1/admin/tokens/tok_${crypto.randomUUID()}`, {
      method: "DELETE",
      headers: ADMIN,
    });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { code: string }).code).toBe("token_not_found");
  });

  it("refuses expired tokens with the same generic 401", async () => {
    const minted = await mintToken(uniqueOwner(), ["usage:read"], { expiresInSeconds: 60 });
    expect(Date.parse(minted.expiresAt ?? "")).toBeGreaterThan(Date.now());
    await env.DB.prepare("UPDATE api_tokens SET expires_at = ? WHERE id = ?")
      .bind(new Date(Date.now() - 1000).toISOString(), minted.id)
      .run();
    const response = await call("/api/v1/credentials/audit", { headers: bearer(minted.token) });
    expect(response.status).toBe(401);
    const unknown = await call("/api/v1/credentials/audit", { headers: bearer(`cc_${"A".repeat(43)}`) });
    expect(await response.json()).toEqual({
      ...((await unknown.json()) as object),
      requestId: expect.any(String),
    });
  });

  it("validates mint requests", async () => {
    const cases = [
      { owner: "x", scopes: ["usage:read"] },
      { owner: "owner-ok", scopes: [] },
      { owner: "owner-ok", scopes: ["root"] },
      { owner: "owner-ok", scopes: ["usage:read"], expiresInSeconds: 366 * 24 * 3600 },
      { owner: "owner-ok", scopes: ["usage:read"], extra: true },
    ];
    for (const body of cases) {
      const response = await call("/api/v1/admin/tokens", jsonInit("POST", body, ADMIN));
      expect(response.status, JSON.stringify(body)).toBe(400);
      const problem = (await response.json()) as { code: string; errors: unknown[] };
      expect(problem.code).toBe("validation_failed");
      expect(problem.errors.length).toBeGreaterThan(0);
    }
  });

  it.each([
    ["missing", {}],
    ["wrong", { authorization: "Bearer not-the-admin-token" }],
    ["a user token", { authorization: `Bearer cc_${"B".repeat(43)}` }],
  ])("guards admin routes against a %s token", async (_name, headers: Record<string, string>) => {
    for (const [method, path] of [
      ["POST", "/api/v1/admin/tokens"],
      ["GET", "/api/v1/admin/tokens"],
      ["DELETE", `/api/v1/admin/tokens/tok_${crypto.randomUUID()}`],
    ] as const) {
      const init =
        method === "POST"
          ? jsonInit(method, { owner: "owner-ok", scopes: ["admin"] }, headers)
          : { method, headers };
      const response = await call(path, init);
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toMatch(/^Bearer/);
    }
  });
});
