import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { app } from "../src/index.ts";
import { env, jsonInit, uniqueOwner } from "./helpers.ts";

const DAY_S = 86_400;
const STRONG = `${"s".repeat(31)}!`; // exactly 32 characters
const SHORT = "x".repeat(31);

/** The Worker with some bindings replaced, as a staging or production deployment would have them. */
async function withEnv(overrides: Record<string, string | undefined>, path: string, init: RequestInit = {}) {
  const ctx = createExecutionContext();
  const response = await app.fetch(
    new Request(`https://edge.test${path}`, init),
    { ...env, ...overrides },
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return response;
}

const mintBody = (extra: object = {}) => ({ owner: uniqueOwner(), scopes: ["usage:read"], ...extra });
const admin = (token: string) => ({ authorization: `Bearer ${token}` });

describe("ADMIN_TOKEN strength outside development", () => {
  it.each(["staging", "production", undefined])(
    "with ENVIRONMENT=%s a short or missing admin token disables every admin route with a 500 problem",
    async (environment) => {
      // Every length the config's 16-byte floor accepts but the deployment rule does not.
      for (const adminToken of [SHORT, "x".repeat(16)]) {
        const overrides = { ENVIRONMENT: environment, ADMIN_TOKEN: adminToken };
        const requests: [string, RequestInit][] = [
          ["/api/v1/admin/tokens", jsonInit("POST", mintBody(), admin(SHORT))],
          ["/api/v1/admin/tokens", { headers: admin(SHORT) }],
          [`/api/v1/admin/tokens/tok_${crypto.randomUUID()}`, { method: "DELETE", headers: admin(SHORT) }],
          ["/api/v1/admin/tokens", { headers: {} }],
        ];
        for (const [path, init] of requests) {
          const response = await withEnv(overrides, path, init);
          expect(response.status).toBe(500);
          expect(response.headers.get("content-type")).toBe("application/problem+json");
          const text = await response.text();
          expect(text).not.toContain(adminToken);
          expect(JSON.parse(text)).toMatchObject({
            code: "admin_token_too_short",
            requestId: expect.any(String),
          });
        }
      }
    },
  );

  it("leaves a missing token or an unknown ENVIRONMENT to the edge config: edge_misconfigured", async () => {
    for (const overrides of [
      { ENVIRONMENT: "production", ADMIN_TOKEN: undefined },
      { ENVIRONMENT: "prod", ADMIN_TOKEN: STRONG },
    ]) {
      const response = await withEnv(overrides, "/api/v1/admin/tokens", { headers: admin(STRONG) });
      expect(response.status).toBe(500);
      const problem = (await response.json()) as { code: string; detail: string };
      expect(problem.code).toBe("edge_misconfigured");
      expect(problem.detail).toMatch(
        /ADMIN_TOKEN is required|ENVIRONMENT must be development, staging or production/,
      );
      expect(problem.detail).not.toContain(STRONG);
    }
  });

  it("serves admin routes with a 32-character token in production, and still checks it", async () => {
    const overrides = { ENVIRONMENT: "production", ADMIN_TOKEN: STRONG };
    const minted = await withEnv(
      overrides,
      "/api/v1/admin/tokens",
      jsonInit("POST", mintBody(), admin(STRONG)),
    );
    expect(minted.status).toBe(201);
    const wrong = await withEnv(overrides, "/api/v1/admin/tokens", { headers: admin(`${STRONG}x`) });
    expect(wrong.status).toBe(401);
  });

  it("allows a short admin token in development (the local stack and these tests)", async () => {
    expect(env.ENVIRONMENT).toBe("development");
    const short = "short-dev-token!"; // 16 bytes: the config's floor everywhere
    const response = await withEnv({ ADMIN_TOKEN: short }, "/api/v1/admin/tokens", {
      headers: admin(short),
    });
    expect(response.status).toBe(200);
  });
});

describe("token lifetime", () => {
  const ADMIN_ENV = { ENVIRONMENT: "production", ADMIN_TOKEN: STRONG };
  async function mint(extra: object, overrides: Record<string, string> = {}) {
    return withEnv(
      { ...ADMIN_ENV, ...overrides },
      "/api/v1/admin/tokens",
      jsonInit("POST", mintBody(extra), admin(STRONG)),
    );
  }
  async function lifetimeOf(response: Response): Promise<number> {
    expect(response.status).toBe(201);
    const { expiresAt } = (await response.json()) as { expiresAt: string };
    return (Date.parse(expiresAt) - Date.now()) / 1000;
  }

  it("defaults to TOKEN_MAX_LIFETIME_SECONDS (90 days) when expiresInSeconds is omitted", async () => {
    expect(env.TOKEN_MAX_LIFETIME_SECONDS).toBe(String(90 * DAY_S));
    expect(await lifetimeOf(await mint({}))).toBeCloseTo(90 * DAY_S, -2);
    expect(await lifetimeOf(await mint({}, { TOKEN_MAX_LIFETIME_SECONDS: "3600" }))).toBeCloseTo(3600, -2);
  });

  it("takes an explicit lifetime up to the maximum", async () => {
    expect(await lifetimeOf(await mint({ expiresInSeconds: 3600 }))).toBeCloseTo(3600, -1);
    expect(await lifetimeOf(await mint({ expiresInSeconds: 90 * DAY_S }))).toBeCloseTo(90 * DAY_S, -2);
  });

  it("refuses a longer one with 400 token_lifetime_too_long unless allowLongLived is true", async () => {
    const refused = await mint({ expiresInSeconds: 91 * DAY_S });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({
      code: "token_lifetime_too_long",
      errors: [{ path: "expiresInSeconds" }],
    });
    const capped = await mint({ expiresInSeconds: 7200 }, { TOKEN_MAX_LIFETIME_SECONDS: "3600" });
    expect(((await capped.json()) as { code: string }).code).toBe("token_lifetime_too_long");

    expect(await lifetimeOf(await mint({ expiresInSeconds: 200 * DAY_S, allowLongLived: true }))).toBeCloseTo(
      200 * DAY_S,
      -2,
    );
    // allowLongLived alone does not lengthen the default, and one year stays the hard cap.
    expect(await lifetimeOf(await mint({ allowLongLived: true }))).toBeCloseTo(90 * DAY_S, -2);
    const overCap = await mint({ expiresInSeconds: 366 * DAY_S, allowLongLived: true });
    expect(((await overCap.json()) as { code: string }).code).toBe("validation_failed");
  });

  it("answers a malformed TOKEN_MAX_LIFETIME_SECONDS with a 500 naming the variable", async () => {
    for (const bad of ["ninety days", "0", "1.5", "", String(400 * DAY_S)]) {
      const response = await mint({}, { TOKEN_MAX_LIFETIME_SECONDS: bad });
      expect(response.status).toBe(500);
      const problem = (await response.json()) as { code: string; detail: string };
      expect(problem.code).toBe("edge_misconfigured");
      expect(problem.detail).toContain("TOKEN_MAX_LIFETIME_SECONDS must be an integer from 60 to 31536000");
    }
  });
});
