import { createExecutionContext, env } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { FLAG_ON } from "../src/flags/definitions.ts";
import { flagOnFor, ownerBucket } from "../src/flags/evaluate.ts";
import { FLAG_CACHE_MS, FLAG_KEY_PREFIX, FlagStore } from "../src/flags/store.ts";
import { app } from "../src/index.ts";
import { snapshotKey } from "../src/sessions/kv-store.ts";
import { ADMIN, BASE, bearer, call, jsonInit, mintToken, uniqueOwner } from "./helpers.ts";
import { expectProblem, json, newOwner } from "./sessions-helpers.ts";

type Bindings = typeof env;

/** The Worker with other wrangler vars, as a deployment that set them would run. */
function withVars(vars: Partial<Record<keyof Bindings, string>>) {
  const bindings = { ...env, ...vars } as Bindings;
  return (path: string, init: RequestInit = {}) =>
    app.fetch(new Request(`${BASE}${path}`, init), bindings, createExecutionContext());
}

const PROVISION = {
  service: "billing",
  credentialPath: "services/chittyid/service_token",
  purpose: "deploy",
};
const owners = (count: number) =>
  Array.from({ length: count }, (_, i) => `01-C-PROD-${String(i).padStart(4, "0")}-P-2501-A-X`);

describe("evaluation", () => {
  it("rolls out to its percentage of 10,000 owners (±2 points), the same owners every time", async () => {
    const synthetic = owners(10_000);
    const buckets = await Promise.all(synthetic.map((owner) => ownerBucket("credentials", owner)));
    const again = await Promise.all(synthetic.map((owner) => ownerBucket("credentials", owner)));
    expect(again).toEqual(buckets);
    for (const percentage of [1, 10, 50, 90]) {
      const setting = { ...FLAG_ON, rolloutPercentage: percentage };
      // The evaluation is the bucket against the percentage (checked on a sample; all 10,000 below).
      for (const [i, owner] of synthetic.slice(0, 200).entries()) {
        expect(await flagOnFor("credentials", setting, owner)).toBe((buckets[i] ?? 100) < percentage);
      }
      const share = (buckets.filter((bucket) => bucket < percentage).length / synthetic.length) * 100;
      expect(Math.abs(share - percentage), `${percentage} %: ${share}`).toBeLessThanOrEqual(2);
    }
  }, 30_000);

  it("grows the rollout without turning anyone off, and buckets differ per flag", async () => {
    const synthetic = owners(1_000);
    const at = async (percentage: number) =>
      Promise.all(
        synthetic.map((o) => flagOnFor("r2Storage", { ...FLAG_ON, rolloutPercentage: percentage }, o)),
      );
    const [ten, twenty] = [await at(10), await at(20)];
    expect(ten.every((on, i) => !on || twenty[i])).toBe(true);
    const buckets = await Promise.all(
      synthetic.map(async (o) => [await ownerBucket("r2Storage", o), await ownerBucket("credentials", o)]),
    );
    expect(buckets.filter(([a, b]) => a === b).length).toBeLessThan(50);
  }, 30_000);

  it("turns a flag on for listed owners at 0 %, and off for everyone when disabled", async () => {
    const listed = { enabled: true, rolloutPercentage: 0, allowedOwners: ["alice"] };
    expect(await flagOnFor("msgpack", listed, "alice")).toBe(true);
    expect(await flagOnFor("msgpack", listed, "bob")).toBe(false);
    expect(await flagOnFor("msgpack", { ...listed, enabled: false }, "alice")).toBe(false);
    // No owner (the admin token, unauthenticated routes): only a flag on for everyone.
    expect(await flagOnFor("msgpack", FLAG_ON, undefined)).toBe(true);
    expect(await flagOnFor("msgpack", { ...FLAG_ON, rolloutPercentage: 99 }, undefined)).toBe(false);
  });
});

describe("KV overrides", () => {
  const defaults = { durableObjects: FLAG_ON, r2Storage: FLAG_ON, credentials: FLAG_ON, msgpack: FLAG_ON };
  afterEach(async () => {
    for (const key of (await env.FLAGS.list({ prefix: FLAG_KEY_PREFIX })).keys)
      await env.FLAGS.delete(key.name);
  });

  it("applies an override until its TTL passes, then the default again", async () => {
    // A whole second, not before the real clock: KV refuses an expiration less than 60 s ahead of it.
    let now = Math.ceil(Date.now() / 1000) * 1000;
    const expiry = now + 60_000;
    const store = new FlagStore(env.FLAGS, defaults, { now: () => now, cache: new Map() });
    const off = { enabled: false, rolloutPercentage: 100, allowedOwners: [] };
    const put = await store.put("credentials", off, 60);
    expect(put).toMatchObject({
      source: "kv",
      setting: off,
      override: { expiresAt: new Date(expiry).toISOString() },
    });
    expect(await store.isOn("credentials", "someone")).toBe(false);
    // KV drops the key itself at the same second (its own clock); until then the value says so too.
    const listed = (await env.FLAGS.list({ prefix: FLAG_KEY_PREFIX })).keys;
    expect(listed.find((key) => key.name === "flag:credentials")?.expiration).toBe(expiry / 1000);
    now += 59_999;
    expect((await store.effective("credentials")).source).toBe("kv");
    now += 1;
    // Still in KV (its clock has not moved) and in the cache, and ignored all the same.
    expect(await env.FLAGS.get("flag:credentials")).not.toBeNull();
    expect(await store.effective("credentials")).toMatchObject({
      source: "default",
      override: null,
      setting: FLAG_ON,
    });
    expect(await store.isOn("credentials", "someone")).toBe(true);
  });

  it("caches reads for a few seconds; a write by this isolate shows at once", async () => {
    let now = Date.now();
    const store = new FlagStore(env.FLAGS, defaults, { now: () => now, cache: new Map() });
    expect((await store.effective("msgpack")).source).toBe("default");
    // Another isolate writes: this one keeps its cached read until FLAG_CACHE_MS has passed.
    const other = new FlagStore(env.FLAGS, defaults, { now: () => now, cache: new Map() });
    await other.put("msgpack", { enabled: false, rolloutPercentage: 0, allowedOwners: [] });
    expect((await store.effective("msgpack")).source).toBe("default");
    now += FLAG_CACHE_MS;
    expect((await store.effective("msgpack")).source).toBe("kv");
    await store.remove("msgpack");
    expect((await store.effective("msgpack")).source).toBe("default");
  });

  it("ignores (and reports) an override that does not parse", async () => {
    await env.FLAGS.put("flag:r2Storage", JSON.stringify({ enabled: "yes" }));
    const store = new FlagStore(env.FLAGS, defaults, { cache: new Map() });
    expect(await store.effective("r2Storage")).toMatchObject({ source: "default", invalidOverride: true });
  });
});

describe("admin routes", () => {
  afterEach(async () => {
    for (const name of ["credentials", "r2Storage", "msgpack", "durableObjects"]) {
      await call(`/api/v1/admin/flags/${name}`, { method: "DELETE", headers: ADMIN });
    }
  });

  it("need the admin token", async () => {
    await expectProblem(await call("/api/v1/admin/flags"), 401, "unauthorized");
    await expectProblem(
      await call("/api/v1/admin/flags/msgpack", { headers: bearer("cc_wrong") }),
      401,
      "unauthorized",
    );
    await expectProblem(await call("/api/v1/admin/config/validate"), 401, "unauthorized");
    const user = await mintToken(uniqueOwner(), ["usage:read"]);
    await expectProblem(
      await call("/api/v1/admin/flags/msgpack", jsonInit("PUT", FLAG_ON, bearer(user.token))),
      401,
      "unauthorized",
    );
  });

  it("list every flag with its effective value and source", async () => {
    const list = await json<{ flags: { name: string; source: string; enabled: boolean }[] }>(
      await call("/api/v1/admin/flags", { headers: ADMIN }),
      200,
    );
    expect(list.flags.map((flag) => flag.name)).toEqual([
      "durableObjects",
      "r2Storage",
      "credentials",
      "msgpack",
    ]);
    expect(list.flags.every((flag) => flag.source === "default" && flag.enabled)).toBe(true);
  });

  it("set, read and delete an override; a TTL is stored in the value and as KV's expiration", async () => {
    const before = Date.now();
    const set = await json<{ source: string; rolloutPercentage: number; override: { expiresAt: string } }>(
      await call(
        "/api/v1/admin/flags/r2Storage",
        jsonInit(
          "PUT",
          { enabled: true, rolloutPercentage: 25, allowedOwners: ["a"], ttlSeconds: 120 },
          ADMIN,
        ),
      ),
      200,
    );
    expect(set).toMatchObject({ source: "kv", rolloutPercentage: 25 });
    const expiresAt = Date.parse(set.override.expiresAt);
    expect(expiresAt).toBeGreaterThanOrEqual(before + 120_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 120_000);
    const key = (await env.FLAGS.list({ prefix: "flag:r2Storage" })).keys[0];
    expect(key?.expiration).toBe(Math.ceil(expiresAt / 1000));
    const read = await json<{ source: string; allowedOwners: string[] }>(
      await call("/api/v1/admin/flags/r2Storage", { headers: ADMIN }),
      200,
    );
    expect(read).toMatchObject({ source: "kv", allowedOwners: ["a"] });
    expect((await call("/api/v1/admin/flags/r2Storage", { method: "DELETE", headers: ADMIN })).status).toBe(
      204,
    );
    const after = await json<{ source: string }>(
      await call("/api/v1/admin/flags/r2Storage", { headers: ADMIN }),
      200,
    );
    expect(after.source).toBe("default");
  });

  it("validate the body and refuse unknown flags", async () => {
    const put = (body: unknown, name = "msgpack") =>
      call(`/api/v1/admin/flags/${name}`, jsonInit("PUT", body, ADMIN));
    const bad = await expectProblem(
      await put({ ...FLAG_ON, rolloutPercentage: 101 }),
      400,
      "validation_failed",
    );
    expect(JSON.stringify(bad)).toContain("rolloutPercentage");
    await expectProblem(await put({ ...FLAG_ON, ttlSeconds: 30 }), 400, "validation_failed");
    await expectProblem(await put({ ...FLAG_ON, extra: 1 }), 400, "validation_failed");
    await expectProblem(await put({ enabled: true }), 400, "validation_failed");
    await expectProblem(await put(FLAG_ON, "teleport"), 404, "flag_not_found");
    await expectProblem(
      await call("/api/v1/admin/flags/teleport", { headers: ADMIN }),
      404,
      "flag_not_found",
    );
    await expectProblem(
      await call("/api/v1/admin/flags/teleport", { method: "DELETE", headers: ADMIN }),
      404,
      "flag_not_found",
    );
  });
});

describe("a disabled capability", () => {
  it("answers credentials with 503 feature_disabled naming the flag; listed owners still pass", async () => {
    const listed = uniqueOwner();
    const send = withVars({
      FEATURE_FLAGS: JSON.stringify({
        credentials: { enabled: true, rolloutPercentage: 0, allowedOwners: [listed] },
      }),
    });
    const other = await mintToken(uniqueOwner(), ["credentials:provision"]);
    const refused = await send(
      "/api/v1/credentials/provision",
      jsonInit("POST", PROVISION, bearer(other.token)),
    );
    const problem = await expectProblem(refused, 503, "feature_disabled");
    expect(problem).toMatchObject({ flag: "credentials" });
    const allowed = await mintToken(listed, ["credentials:provision"]);
    expect(
      (await send("/api/v1/credentials/provision", jsonInit("POST", PROVISION, bearer(allowed.token))))
        .status,
    ).toBe(200);
  });

  it("answers documents with 503 naming r2Storage", async () => {
    const send = withVars({ FEATURE_FLAGS: JSON.stringify({ r2Storage: { enabled: false } }) });
    const token = (await mintToken(uniqueOwner(), ["documents:read"])).token;
    const problem = await expectProblem(
      await send("/api/v1/documents", { headers: bearer(token) }),
      503,
      "feature_disabled",
    );
    expect(problem).toMatchObject({ flag: "r2Storage" });
  });

  it("turns off through a KV override set with the admin route, and back on when it is deleted", async () => {
    const token = (await mintToken(uniqueOwner(), ["credentials:provision"])).token;
    const off = { enabled: false, rolloutPercentage: 100, allowedOwners: [] };
    expect(
      (await call("/api/v1/admin/flags/credentials", jsonInit("PUT", { ...off, ttlSeconds: 60 }, ADMIN)))
        .status,
    ).toBe(200);
    try {
      const refused = await call("/api/v1/credentials/provision", jsonInit("POST", PROVISION, bearer(token)));
      expect(await expectProblem(refused, 503, "feature_disabled")).toMatchObject({ flag: "credentials" });
    } finally {
      await call("/api/v1/admin/flags/credentials", { method: "DELETE", headers: ADMIN });
    }
    expect(
      (await call("/api/v1/credentials/provision", jsonInit("POST", PROVISION, bearer(token)))).status,
    ).toBe(200);
  });

  it("moves sessions to the KV fallback per owner (durableObjects), with WebSockets 503", async () => {
    const listed = await newOwner();
    const other = await newOwner();
    const send = withVars({
      ENABLE_DURABLE_OBJECTS: undefined,
      FEATURE_FLAGS: JSON.stringify({
        durableObjects: { rolloutPercentage: 0, allowedOwners: [listed.owner] },
      }),
    } as Partial<Record<keyof Bindings, string>>);
    for (const owner of [listed, other]) {
      const created = await send("/api/v1/sessions", jsonInit("POST", { id: "s1" }, bearer(owner.token)));
      expect(created.status).toBe(201);
    }
    // The KV store writes its snapshot at once; an object writes one about 10 s later.
    expect(await env.SESSIONS_KV.get(snapshotKey(other.owner))).not.toBeNull();
    expect(await env.SESSIONS_KV.get(snapshotKey(listed.owner))).toBeNull();
    await expectProblem(
      await send("/api/v1/sessions/ws-ticket", { method: "POST", headers: bearer(other.token) }),
      503,
      "websockets_disabled",
    );
    expect(
      (await send("/api/v1/sessions/ws-ticket", { method: "POST", headers: bearer(listed.token) })).status,
    ).toBe(201);
  });

  it("refuses a configuration that sets durableObjects twice", async () => {
    const send = withVars({
      ENABLE_DURABLE_OBJECTS: "true",
      FEATURE_FLAGS: JSON.stringify({ durableObjects: { enabled: false } }),
    });
    const problem = await expectProblem(await send("/health"), 500, "edge_misconfigured");
    expect(problem.detail).toContain("ENABLE_DURABLE_OBJECTS");
  });
});
