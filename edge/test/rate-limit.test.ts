import {
  createExecutionContext,
  env,
  evictDurableObject,
  runDurableObjectAlarm,
  runInDurableObject,
} from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { EdgeVarsSchema } from "../src/config.ts";
import { app } from "../src/index.ts";
import { limiterStub, ownerKey } from "../src/platform/rate-limit.ts";
import { type RateLimiterDO, WINDOW_MS } from "../src/platform/rate-limiter-do.ts";
import { BASE, bearer, mintToken, uniqueOwner } from "./helpers.ts";

/** The Worker's fetch with these vars over the test environment (a new object: its config is parsed anew). */
function fetchWith(overrides: Record<string, unknown>, path: string, init: RequestInit = {}) {
  return app.fetch(new Request(`${BASE}${path}`, init), { ...env, ...overrides }, createExecutionContext());
}

const audit = (token: string, overrides: Record<string, unknown> = {}) =>
  fetchWith({ ORIGIN_TIMEOUT_MS: "30000", ...overrides }, "/api/v1/credentials/audit?limit=1", {
    headers: bearer(token),
  });

/** A client address no other test uses. */
const uniqueAddress = () =>
  `198.51.100.${Math.floor(Math.random() * 250)}-${crypto.randomUUID().slice(0, 8)}`;

afterEach(() => {
  vi.useRealTimers();
});

describe("exact per-owner rate limits", () => {
  it("refuses the 101st credential call in a minute while another owner is served", async () => {
    const [busy, other] = await Promise.all([
      mintToken(uniqueOwner(), ["usage:read"]),
      mintToken(uniqueOwner(), ["usage:read"]),
    ]);
    for (let i = 1; i <= 100; i++) {
      const response = await audit(busy.token);
      expect(response.status, `call ${i}`).toBe(200);
      expect(response.headers.get("ratelimit-remaining")).toBe(String(100 - i));
      await response.body?.cancel();
    }
    const refused = await audit(busy.token);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("content-type")).toBe("application/problem+json");
    const problem = (await refused.json()) as { code: string; requestId: string; detail: string };
    expect(problem.code).toBe("rate_limited");
    expect(typeof problem.requestId).toBe("string");
    expect(problem.detail).toContain("100 credentials requests a minute");
    const retryAfter = Number(refused.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers.get("ratelimit-limit")).toBe("100");
    expect(refused.headers.get("ratelimit-remaining")).toBe("0");
    expect(refused.headers.get("ratelimit-reset")).toBe(String(retryAfter));
    expect(refused.headers.get("ratelimit-policy")).toBe("100;w=60");

    const served = await audit(other.token);
    expect(served.status).toBe(200);
    expect(served.headers.get("ratelimit-remaining")).toBe("99");
    // Another class of the same owner has its own budget.
    const sessions = await fetchWith({}, "/api/v1/sessions", { headers: bearer(busy.token) });
    expect(sessions.status).toBe(403);
    expect(sessions.headers.get("ratelimit-limit")).toBe("500");
  }, 120_000);

  it("lets exactly the limit through when 150 requests arrive at once", async () => {
    const { token } = await mintToken(uniqueOwner(), ["usage:read"]);
    const responses = await Promise.all(Array.from({ length: 150 }, () => audit(token)));
    const statuses = responses.map((response) => response.status);
    await Promise.all(responses.map((response) => response.body?.cancel()));
    expect(statuses.filter((status) => status === 429)).toHaveLength(50);
    expect(statuses.filter((status) => status !== 429)).toHaveLength(100);
    // Every allowed answer saw a different count: the object decided them one at a time.
    const remaining = responses
      .filter((response) => response.status !== 429)
      .map((response) => Number(response.headers.get("ratelimit-remaining")))
      .sort((a, b) => a - b);
    expect(remaining).toEqual(Array.from({ length: 100 }, (_, i) => i));
  }, 120_000);

  it("frees each slot exactly one window after it was taken (the object, with a fake clock)", async () => {
    const stub = limiterStub(env, ownerKey(uniqueOwner()));
    const start = Date.now();
    await runInDurableObject(stub, async (instance: RateLimiterDO) => {
      vi.useFakeTimers({ toFake: ["Date"] });
      vi.setSystemTime(start);
      for (let i = 0; i < 3; i++) expect((await instance.take("credentials", 3)).allowed).toBe(true);
      vi.setSystemTime(start + 30_000);
      expect((await instance.take("credentials", 3)).allowed).toBe(false);
      vi.setSystemTime(start + WINDOW_MS - 1);
      expect(await instance.take("credentials", 3)).toMatchObject({ allowed: false, retryAfterMs: 1 });
      // The window is (now - 60 s, now]: requests exactly 60 s old no longer count (all three here).
      vi.setSystemTime(start + WINDOW_MS);
      expect(await instance.take("credentials", 3)).toMatchObject({ allowed: true, remaining: 2 });
      vi.useRealTimers();
    });
  });

  it("slides: a slot frees as its request leaves the window, and survives eviction", async () => {
    const stub = limiterStub(env, ownerKey(uniqueOwner()));
    const start = Date.now();
    await runInDurableObject(stub, async (instance: RateLimiterDO) => {
      vi.useFakeTimers({ toFake: ["Date"] });
      vi.setSystemTime(start);
      expect((await instance.take("sessions", 2)).allowed).toBe(true);
      vi.setSystemTime(start + 20_000);
      expect((await instance.take("sessions", 2)).allowed).toBe(true);
      vi.setSystemTime(start + 40_000);
      expect(await instance.take("sessions", 2)).toMatchObject({ allowed: false, retryAfterMs: 20_000 });
      vi.useRealTimers();
    });
    // A restarted object reads the last minute back from its storage.
    await evictDurableObject(stub);
    await runInDurableObject(stub, async (instance: RateLimiterDO) => {
      vi.useFakeTimers({ toFake: ["Date"] });
      vi.setSystemTime(start + 40_000);
      expect((await instance.take("sessions", 2)).allowed).toBe(false);
      vi.setSystemTime(start + WINDOW_MS);
      expect(await instance.take("sessions", 2)).toMatchObject({ allowed: true, remaining: 0 });
      vi.useRealTimers();
    });
  });

  it("clears its storage with an alarm once the window has passed", async () => {
    const stub = limiterStub(env, ownerKey(uniqueOwner()));
    await stub.take("documents", 10);
    const rows = () =>
      runInDurableObject(
        stub,
        (_instance: RateLimiterDO, state) =>
          state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM hits").one().n,
      );
    expect(await rows()).toBe(1);
    await runInDurableObject(stub, () => {
      vi.useFakeTimers({ toFake: ["Date"] });
      vi.setSystemTime(Date.now() + WINDOW_MS + 1);
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    vi.useRealTimers();
    expect(await rows()).toBe(0);
  });

  it("puts RateLimit headers on allowed answers and on errors after the limiter", async () => {
    const { token } = await mintToken(uniqueOwner(), ["documents:read"]);
    const listed = await fetchWith({}, "/api/v1/documents", { headers: bearer(token) });
    expect(listed.status).toBe(200);
    expect(listed.headers.get("ratelimit-limit")).toBe("2000");
    expect(listed.headers.get("ratelimit-remaining")).toBe("1999");
    expect(listed.headers.get("ratelimit-reset")).toBe("60");
    expect(listed.headers.get("ratelimit-policy")).toBe("2000;w=60");
    const missing = await fetchWith({}, "/api/v1/documents/doc_missing", { headers: bearer(token) });
    expect(missing.status).toBe(404);
    expect(missing.headers.get("ratelimit-remaining")).toBe("1998");
  });

  it("takes each class's limit from its variable", async () => {
    const { token } = await mintToken(uniqueOwner(), ["sessions:read"]);
    const overrides = { RATE_LIMIT_SESSIONS_PER_MINUTE: "3" };
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const response = await fetchWith(overrides, "/api/v1/sessions", { headers: bearer(token) });
      statuses.push(response.status);
      expect(response.headers.get("ratelimit-limit")).toBe("3");
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
  });

  it("reads a refused request's chunked body to its end, so the runtime keeps the connection", async () => {
    const { token } = await mintToken(uniqueOwner(), ["sessions:read", "sessions:write"]);
    const overrides = { RATE_LIMIT_SESSIONS_PER_MINUTE: "1" };
    expect((await fetchWith(overrides, "/api/v1/sessions", { headers: bearer(token) })).status).toBe(200);
    let chunksLeft = 4;
    let ended = false;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (chunksLeft-- > 0) controller.enqueue(new Uint8Array(16 * 1024));
        else {
          ended = true;
          controller.close();
        }
      },
    });
    const refused = await fetchWith(overrides, "/api/v1/sessions", {
      method: "POST",
      headers: bearer(token, { "content-type": "application/json" }),
      body,
    });
    expect(refused.status).toBe(429);
    expect(ended).toBe(true);
  });

  it("limits unauthenticated routes per client address (CF-Connecting-IP)", async () => {
    const address = uniqueAddress();
    const overrides = { RATE_LIMIT_OTHER_PER_MINUTE: "2" };
    const health = (ip: string) => fetchWith(overrides, "/health", { headers: { "cf-connecting-ip": ip } });
    expect((await health(address)).status).toBe(200);
    const second = await health(address);
    expect(second.status).toBe(200);
    expect(second.headers.get("ratelimit-remaining")).toBe("0");
    const third = await health(address);
    expect(third.status).toBe(429);
    expect(((await third.json()) as { detail: string }).detail).toContain("per client address");
    // Another address, and an authenticated route from the same address, are not affected.
    expect((await health(uniqueAddress())).status).toBe(200);
    const { token } = await mintToken(uniqueOwner(), ["usage:read"]);
    const usage = await fetchWith(overrides, "/api/v1/usage", {
      headers: bearer(token, { "cf-connecting-ip": address }),
    });
    expect(usage.status).toBe(200);
  });

  it("limits admin routes per address before the admin token is checked", async () => {
    const address = uniqueAddress();
    const overrides = { RATE_LIMIT_ADMIN_PER_MINUTE: "1" };
    const tokens = () =>
      fetchWith(overrides, "/api/v1/admin/tokens", {
        headers: { authorization: "Bearer wrong-admin-token", "cf-connecting-ip": address },
      });
    expect((await tokens()).status).toBe(401);
    expect((await tokens()).status).toBe(429);
  });

  it("fails closed for credentials (503) and open for other classes when the limiter errors", async () => {
    const { token } = await mintToken(uniqueOwner(), ["usage:read", "sessions:read"]);
    const broken = {
      idFromName: (name: string) => env.RATE_LIMITER.idFromName(name),
      get: () => ({
        take: () => Promise.reject(new Error("limiter down")),
        record: () => Promise.reject(new Error("limiter down")),
      }),
    };
    const refused = await audit(token, { RATE_LIMITER: broken });
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("5");
    expect(((await refused.json()) as { code: string }).code).toBe("rate_limiter_unavailable");
    const sessions = await fetchWith({ RATE_LIMITER: broken }, "/api/v1/sessions", {
      headers: bearer(token),
    });
    expect(sessions.status).toBe(200);
    expect(sessions.headers.get("ratelimit-limit")).toBeNull();
  });

  it("skips exempt owners only in development, and refuses the exemption elsewhere", async () => {
    const owner = uniqueOwner();
    const { token } = await mintToken(owner, ["sessions:read"]);
    const overrides = {
      RATE_LIMIT_SESSIONS_PER_MINUTE: "1",
      RATE_LIMIT_EXEMPT_OWNERS: `someone-else,${owner}`,
    };
    for (let i = 0; i < 3; i++) {
      const response = await fetchWith(overrides, "/api/v1/sessions", { headers: bearer(token) });
      expect(response.status).toBe(200);
      expect(response.headers.get("ratelimit-limit")).toBeNull();
    }
    const production = await fetchWith({ ...overrides, ENVIRONMENT: "production" }, "/health");
    expect(production.status).toBe(500);
    expect(((await production.json()) as { detail: string }).detail).toContain(
      "RATE_LIMIT_EXEMPT_OWNERS is only allowed with ENVIRONMENT=development",
    );
  });

  it("validates the limits as whole numbers from 1 to 100000", () => {
    const vars = { ORIGIN_URL: "https://origin.example.com", ENVIRONMENT: "staging" };
    for (const bad of ["0", "100001", "1.5", "-1", "many", ""]) {
      const result = EdgeVarsSchema.safeParse({ ...vars, RATE_LIMIT_CREDENTIALS_PER_MINUTE: bad });
      expect(result.success, bad).toBe(false);
      expect(result.error?.issues[0]?.message).toBe(
        "RATE_LIMIT_CREDENTIALS_PER_MINUTE must be an integer from 1 to 100000 (requests a minute)",
      );
    }
    const parsed = EdgeVarsSchema.parse(vars);
    expect([
      parsed.RATE_LIMIT_CREDENTIALS_PER_MINUTE,
      parsed.RATE_LIMIT_SESSIONS_PER_MINUTE,
      parsed.RATE_LIMIT_DOCUMENTS_PER_MINUTE,
      parsed.RATE_LIMIT_ADMIN_PER_MINUTE,
      parsed.RATE_LIMIT_OTHER_PER_MINUTE,
    ]).toEqual([100, 500, 2000, 2000, 2000]);
    expect(EdgeVarsSchema.safeParse({ ...vars, RATE_LIMIT_EXEMPT_OWNERS: "a" }).success).toBe(false);
  });
});
