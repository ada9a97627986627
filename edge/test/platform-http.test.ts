import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import type { AppEnv } from "../src/env.ts";
import { httpCaching, JSON_ETAG_MAX_BYTES } from "../src/platform/http-caching.ts";
import { bytesOf, party, upload } from "./documents-helpers.ts";
import { ADMIN, bearer, call, jsonInit, mintToken, uniqueOwner } from "./helpers.ts";
import { fetchSettled } from "./platform-helpers.ts";

const LISTED = "https://app.example.com";

async function problemCode(response: Response): Promise<string> {
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  return ((await response.json()) as { code: string }).code;
}

function preflight(path: string, origin: string): Promise<Response> {
  return call(path, {
    method: "OPTIONS",
    headers: {
      origin,
      "access-control-request-method": "POST",
      "access-control-request-headers": "authorization, content-type",
    },
  });
}

describe("CORS", () => {
  it("answers a listed origin's preflight with 204 and what it may send", async () => {
    const response = await preflight("/api/v1/credentials/provision", LISTED);
    expect(response.status).toBe(204);
    const h = response.headers;
    expect(h.get("access-control-allow-origin")).toBe(LISTED);
    expect(h.get("access-control-allow-credentials")).toBe("true");
    expect(h.get("access-control-allow-methods")).toContain("POST");
    expect(h.get("access-control-allow-headers")).toContain("authorization");
    expect(h.get("access-control-allow-headers")).toContain("content-type");
    expect(h.get("access-control-max-age")).toBe("600");
    expect(h.get("vary")).toContain("Origin");
    expect(h.get("x-content-type-options")).toBe("nosniff");
  });

  it("refuses an unlisted origin's preflight with 403 cors_origin_denied and no CORS headers", async () => {
    for (const origin of ["https://evil.example.com", "https://app.example.com.evil.test", "null"]) {
      const response = await preflight("/api/v1/documents/upload", origin);
      expect(response.status, origin).toBe(403);
      expect(await problemCode(response)).toBe("cors_origin_denied");
      for (const [name] of response.headers) expect(name.startsWith("access-control-"), name).toBe(false);
      expect(response.headers.get("vary")).toContain("Origin");
    }
  });

  it("marks a listed origin's simple request readable, with credentials and the exposed headers", async () => {
    const token = (await mintToken(uniqueOwner(), ["sessions:read"])).token;
    const response = await call("/api/v1/context", {
      headers: bearer(token, { origin: "http://localhost:3000" }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("access-control-allow-origin")).toBe("http://localhost:3000");
    expect(response.headers.get("access-control-allow-credentials")).toBe("true");
    const exposed = response.headers.get("access-control-expose-headers") ?? "";
    for (const name of ["etag", "content-range", "content-disposition", "x-request-id", "retry-after"]) {
      expect(exposed).toContain(name);
    }
    expect(response.headers.get("vary")).toContain("Origin");
  });

  it("gives an unlisted origin's request its answer without any CORS header (the browser withholds it)", async () => {
    const response = await call("/health", { headers: { origin: "https://evil.example.com" } });
    expect(response.status).toBe(200);
    for (const [name] of response.headers) expect(name.startsWith("access-control-"), name).toBe(false);
    expect(response.headers.get("vary")).toContain("Origin");
  });

  it("answers * only in development, and then without credentials", async () => {
    const dev = await fetchSettled(
      "/health",
      { headers: { origin: "https://anything.example" } },
      { CORS_ORIGINS: "*", ENVIRONMENT: "development" },
    );
    expect(dev.headers.get("access-control-allow-origin")).toBe("*");
    expect(dev.headers.get("access-control-allow-credentials")).toBeNull();
    for (const environment of ["production", "staging", undefined]) {
      const refused = await fetchSettled("/health", {}, { CORS_ORIGINS: "*", ENVIRONMENT: environment });
      expect(refused.status, String(environment)).toBe(500);
      const body = (await refused.json()) as { code: string; detail: string };
      expect(body.code).toBe("edge_misconfigured");
      expect(body.detail).toContain("CORS_ORIGINS=* is allowed only with ENVIRONMENT=development");
    }
    const badEntry = await fetchSettled("/health", {}, { CORS_ORIGINS: "https://app.example.com/" });
    expect(((await badEntry.json()) as { detail: string }).detail).toContain("is not an origin");
  });
});

const SECURITY_HEADERS: Record<string, string> = {
  "strict-transport-security": "max-age=63072000; includeSubDomains",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

function expectSecurityHeaders(
  response: Response,
  what: string,
  csp = "default-src 'none'; frame-ancestors 'none'",
) {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
    expect(response.headers.get(name), `${what}: ${name}`).toBe(value);
  }
  expect(response.headers.get("content-security-policy"), what).toBe(csp);
  expect(response.headers.get("cross-origin-resource-policy"), what).toBeTruthy();
  expect(response.headers.get("server"), what).toBeNull();
  expect(response.headers.get("x-powered-by"), what).toBeNull();
}

describe("security headers", () => {
  it("are on every route class's answers, errors included", async () => {
    const sessions = await mintToken(uniqueOwner(), ["sessions:read"]);
    const alice = await party();
    const doc = await upload(alice, bytesOf("headers"));
    const cases: [string, Promise<Response>, number][] = [
      ["health", call("/health"), 200],
      ["status", call("/api/v1/status"), 200],
      ["credentials 401", call("/api/v1/credentials/audit"), 401],
      ["sessions", call("/api/v1/context", { headers: bearer(sessions.token) }), 200],
      ["documents", call("/api/v1/documents", { headers: alice.auth }), 200],
      ["admin", call("/api/v1/admin/tokens", { headers: ADMIN }), 200],
      ["404", call("/api/v1/no-such-thing", { headers: bearer(sessions.token) }), 404],
      ["405", call("/health", { method: "DELETE" }), 405],
      ["preflight", preflight("/health", LISTED), 204],
      ["500", fetchSettled("/health", {}, { EDGE_SIGNING_KEY: "short" }), 500],
    ];
    for (const [what, pending, status] of cases) {
      const response = await pending;
      expect(response.status, what).toBe(status);
      expectSecurityHeaders(response, what);
    }
    // A download keeps its own sandboxing CSP; every other header is still added.
    const download = await call(`/api/v1/documents/${doc.id}/download`, { headers: alice.auth });
    expect(download.status).toBe(200);
    expectSecurityHeaders(download, "download", "sandbox");
  });

  it("leave a WebSocket upgrade working", async () => {
    const token = (await mintToken(uniqueOwner(), ["sessions:read"])).token;
    const response = await call("/api/v1/sessions/ws", { headers: bearer(token, { upgrade: "websocket" }) });
    expect(response.status).toBe(101);
    const socket = response.webSocket;
    expect(socket).toBeTruthy();
    socket?.accept();
    socket?.close(1000, "done");
  });
});

describe("405 with Allow", () => {
  it("names the methods of a known path, across route classes; unknown paths stay 404", async () => {
    const creds = (await mintToken(uniqueOwner(), ["credentials:provision"])).token;
    const sessions = (await mintToken(uniqueOwner(), ["sessions:read"])).token;
    const alice = await party();
    const id = crypto.randomUUID();
    const cases: [string, string, Record<string, string>, string][] = [
      ["PUT", "/health", {}, "GET, HEAD"],
      ["POST", "/api/v1/status", {}, "GET, HEAD"],
      ["GET", "/api/v1/credentials/provision", bearer(creds), "POST"],
      ["DELETE", "/api/v1/context", bearer(sessions), "GET, HEAD"],
      ["POST", `/api/v1/documents/${id}/download`, alice.auth, "GET, HEAD"],
      ["PATCH", "/api/v1/admin/tokens", ADMIN, "POST, GET, HEAD"],
    ];
    for (const [method, path, headers, allow] of cases) {
      const response = await call(path, { method, headers });
      expect(response.status, `${method} ${path}`).toBe(405);
      expect(response.headers.get("allow")?.split(", ").sort(), path).toEqual(allow.split(", ").sort());
      expect(await problemCode(response)).toBe("method_not_allowed");
    }
    const options = await call("/api/v1/status", { method: "OPTIONS" });
    expect(options.status).toBe(204);
    expect(options.headers.get("allow")).toContain("GET");
    const unknown = await call("/api/v1/nothing-here", { method: "PUT", headers: bearer(sessions) });
    expect(unknown.status).toBe(404);
    expect(await problemCode(unknown)).toBe("not_found");
  });
});

describe("Cache-Control, ETag and 304", () => {
  it("revalidates an authenticated JSON GET: private, no-cache, a strong ETag, 304 on If-None-Match", async () => {
    const owner = await mintToken(uniqueOwner(), ["sessions:read", "sessions:write"]);
    const auth = bearer(owner.token);
    await call("/api/v1/context/color", jsonInit("PUT", { value: "blue" }, auth));
    const first = await call("/api/v1/context/color", { headers: auth });
    expect(first.status).toBe(200);
    expect(first.headers.get("cache-control")).toBe("private, no-cache");
    expect(first.headers.get("vary")).toContain("Authorization");
    const etag = first.headers.get("etag") ?? "";
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{24}"$/);
    const again = await call("/api/v1/context/color", { headers: { ...auth, "if-none-match": etag } });
    expect(again.status).toBe(304);
    expect(again.headers.get("etag")).toBe(etag);
    expect(again.headers.get("cache-control")).toBe("private, no-cache");
    expect(await again.text()).toBe("");
    // A change is a new ETag: the old one no longer matches.
    await call("/api/v1/context/color", jsonInit("PUT", { value: "green" }, auth));
    const changed = await call("/api/v1/context/color", { headers: { ...auth, "if-none-match": etag } });
    expect(changed.status).toBe(200);
    expect(changed.headers.get("etag")).not.toBe(etag);
  });

  it("never lets a credential answer or a token mint be stored", async () => {
    const minted = await call(
      "/api/v1/admin/tokens",
      jsonInit("POST", { owner: uniqueOwner(), scopes: ["sessions:read"] }, ADMIN),
    );
    expect(minted.status).toBe(201);
    expect(minted.headers.get("cache-control")).toBe("no-store");
    expect(minted.headers.get("etag")).toBeNull();
    const list = await call("/api/v1/admin/tokens", { headers: ADMIN });
    expect(list.headers.get("cache-control")).toBe("no-store");
    const creds = (await mintToken(uniqueOwner(), ["credentials:provision"])).token;
    const audit = await call("/api/v1/credentials/audit", { headers: bearer(creds) });
    expect(audit.headers.get("cache-control")).toBe("no-store");
    expect(audit.headers.get("etag")).toBeNull();
    const failed = await call("/api/v1/context", { headers: bearer("cc_not-a-real-token") });
    expect(failed.headers.get("cache-control")).toBe("no-store");
    const status = await call("/api/v1/status");
    expect([status.headers.get("cache-control"), status.headers.get("etag")]).toEqual(["no-store", null]);
    const openapi = await call("/api/v1/openapi.json");
    expect(openapi.headers.get("cache-control")).toBe("no-cache");
    expect(openapi.headers.get("etag")).toMatch(/^"/);
  });

  it("hashes JSON only up to the size cap, and leaves other bodies alone", async () => {
    const app = new Hono<AppEnv>()
      .use(httpCaching)
      .get("/big", (c) => c.json({ blob: "x".repeat(JSON_ETAG_MAX_BYTES) }))
      .get("/small", (c) => c.json({ ok: true }))
      .get("/text", (c) => c.text("plain"));
    const big = await app.request("/big");
    expect(big.headers.get("etag")).toBeNull();
    expect(big.headers.get("cache-control")).toBe("no-cache");
    expect((await big.text()).length).toBeGreaterThan(JSON_ETAG_MAX_BYTES);
    const small = await app.request("/small");
    expect(small.headers.get("etag")).toMatch(/^"/);
    expect(await small.json()).toEqual({ ok: true });
    const text = await app.request("/text");
    expect([text.headers.get("etag"), text.headers.get("cache-control")]).toEqual([null, "no-store"]);
  });
});

describe("the platform bench's bare route", () => {
  it("is a 404 unless PLATFORM_BENCH_BARE_ROUTE=true, and then serves the handler without the stack", async () => {
    const token = (await mintToken(uniqueOwner(), ["sessions:read"])).token;
    const path = "/__bench/bare/api/v1/context";
    const off = await fetchSettled(path, { headers: bearer(token) });
    expect(off.status).toBe(404);
    expectSecurityHeaders(off, "bare route off");
    const on = { PLATFORM_BENCH_BARE_ROUTE: "true" };
    const bare = await fetchSettled(path, { headers: bearer(token) }, on);
    expect(bare.status).toBe(200);
    expect(await bare.json()).toMatchObject({ entries: [] });
    expect(bare.headers.get("strict-transport-security")).toBeNull();
    expect(bare.headers.get("x-request-id")).toBeTruthy();
    expect((await fetchSettled(path, {}, on)).status).toBe(401);
  });
});
