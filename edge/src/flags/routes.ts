import { Hono } from "hono";
import { createMiddleware } from "hono/factory";
import { z } from "zod";
import { adminTokenMatches } from "../auth/admin.ts";
import { assertAdminTokenStrength } from "../auth/admin-policy.ts";
import { unauthorized } from "../auth/bearer.ts";
import { edgeConfig } from "../config.ts";
import type { AppEnv } from "../env.ts";
import { readJsonBody } from "../json-body.ts";
import { configReport } from "./config-report.ts";
import {
  type EffectiveFlag,
  FlagNameSchema,
  FlagSettingSchema,
  StoredOverrideSchema,
} from "./definitions.ts";
import { flagNotFound } from "./problems.ts";
import { FlagStore, MAX_OVERRIDE_TTL_SECONDS, MIN_OVERRIDE_TTL_SECONDS } from "./store.ts";

export const PutFlagRequestSchema = FlagSettingSchema.extend({
  /** Omitted: the override stays until deleted. KV's own minimum is 60 s. */
  ttlSeconds: z.number().int().min(MIN_OVERRIDE_TTL_SECONDS).max(MAX_OVERRIDE_TTL_SECONDS).optional(),
}).strict();

export const FlagViewSchema = FlagSettingSchema.extend({
  name: FlagNameSchema,
  /** Where the effective values above come from. */
  source: z.enum(["default", "kv"]),
  default: FlagSettingSchema,
  override: StoredOverrideSchema.nullable(),
});
export type FlagView = z.infer<typeof FlagViewSchema>;

export const FlagListResponseSchema = z.object({ flags: z.array(FlagViewSchema) });

function view(flag: EffectiveFlag): FlagView {
  return {
    name: flag.name,
    ...flag.setting,
    source: flag.source,
    default: flag.default,
    override: flag.override,
  };
}

/**
 * The admin token, checked as the token routes check it (auth/admin.ts): strength first, then a
 * digest comparison. Mounted under /api/v1/admin, beside those routes.
 */
const requireAdmin = createMiddleware<AppEnv>(async (c, next) => {
  const config = edgeConfig(c.env);
  assertAdminTokenStrength(config);
  const presented = /^Bearer +(\S{1,512}) *$/i.exec(c.req.header("authorization") ?? "")?.[1];
  if (presented === undefined || !(await adminTokenMatches(presented, config.ADMIN_TOKEN))) {
    throw unauthorized("The admin token is required.", "chittyconnect-admin");
  }
  await next();
});

function flagName(name: string) {
  const parsed = FlagNameSchema.safeParse(name);
  if (!parsed.success) throw flagNotFound(name);
  return parsed.data;
}

const NO_STORE = { "cache-control": "no-store" };

/** Feature flags and the configuration report, under /api/v1/admin (admin token). */
export const flagAdminRoutes = new Hono<AppEnv>()
  .use("/flags", requireAdmin)
  .use("/flags/*", requireAdmin)
  .use("/config/*", requireAdmin)
  .get("/flags", async (c) => {
    const flags = await FlagStore.fromEnv(c.env).all();
    return c.json({ flags: flags.map(view) }, 200, NO_STORE);
  })
  .get("/flags/:name", async (c) => {
    const flag = await FlagStore.fromEnv(c.env).effective(flagName(c.req.param("name")));
    return c.json(view(flag), 200, NO_STORE);
  })
  .put("/flags/:name", async (c) => {
    const name = flagName(c.req.param("name"));
    const { ttlSeconds, ...setting } = await readJsonBody(c.req.raw, PutFlagRequestSchema);
    const flag = await FlagStore.fromEnv(c.env).put(name, setting, ttlSeconds);
    console.log(
      JSON.stringify({ level: "info", msg: "flag override set", requestId: c.get("requestId"), flag: name }),
    );
    return c.json(view(flag), 200, NO_STORE);
  })
  .delete("/flags/:name", async (c) => {
    const name = flagName(c.req.param("name"));
    await FlagStore.fromEnv(c.env).remove(name);
    console.log(
      JSON.stringify({
        level: "info",
        msg: "flag override removed",
        requestId: c.get("requestId"),
        flag: name,
      }),
    );
    return c.body(null, 204);
  })
  .get("/config/validate", async (c) => c.json(await configReport(c.env), 200, NO_STORE));
