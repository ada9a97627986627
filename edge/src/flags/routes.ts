import { z } from "zod";
import { readJsonBody } from "../json-body.ts";
import { jsonBody, openApiApp, problems, reply, taggedRoute } from "../openapi-parts.ts";
import { ConfigReportSchema, configReport } from "./config-report.ts";
import {
  type EffectiveFlag,
  FLAG_NAMES,
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

function flagName(name: string) {
  const parsed = FlagNameSchema.safeParse(name);
  if (!parsed.success) throw flagNotFound(name);
  return parsed.data;
}

const NO_STORE = { "cache-control": "no-store" };

/** The admin token, not an API token: auth/admin.ts's guard covers all of /api/v1/admin. */
const ADMIN = [{ admin: [] }];
const NameParams = z.object({ name: z.string().max(128) });
const adminRoute = taggedRoute("admin");

const listFlags = adminRoute({
  method: "get",
  path: "/flags",
  summary:
    "Every feature flag with its effective value and its source (default or kv) (admin token required)",
  security: ADMIN,
  responses: { 200: reply("The flags", FlagListResponseSchema), ...problems(401, 500) },
});

const getFlag = adminRoute({
  method: "get",
  path: "/flags/{name}",
  summary: `One feature flag (admin token required): ${FLAG_NAMES.join(", ")}`,
  security: ADMIN,
  request: { params: NameParams },
  responses: { 200: reply("The flag", FlagViewSchema), ...problems(401, 404, 500) },
});

const putFlag = adminRoute({
  method: "put",
  path: "/flags/{name}",
  summary: "Override a flag in KV, optionally for ttlSeconds (at least 60) (admin token required)",
  security: ADMIN,
  request: {
    params: NameParams,
    body: jsonBody(PutFlagRequestSchema, {
      example: { enabled: true, rolloutPercentage: 25, allowedOwners: [], ttlSeconds: 3600 },
    }),
  },
  responses: {
    200: reply("The flag as it now applies", FlagViewSchema),
    ...problems(400, 401, 404, 413, 415, 500),
  },
});

const deleteFlag = adminRoute({
  method: "delete",
  path: "/flags/{name}",
  summary: "Remove a flag's KV override; its default applies again (admin token required)",
  security: ADMIN,
  request: { params: NameParams },
  responses: { 204: reply("Removed (also when there was none)"), ...problems(401, 404, 500) },
});

const validateConfig = adminRoute({
  method: "get",
  path: "/config/validate",
  summary: "The configuration report: one verdict per section, never a secret's value (admin token required)",
  security: ADMIN,
  responses: { 200: reply("The report", ConfigReportSchema), ...problems(401, 500) },
});

/** Feature flags and the configuration report, under /api/v1/admin (admin token). */
export const flagAdminRoutes = openApiApp()
  .openapi(listFlags, async (c) => {
    const flags = await FlagStore.fromEnv(c.env).all();
    return c.json({ flags: flags.map(view) }, 200, NO_STORE);
  })
  .openapi(getFlag, async (c) => {
    const flag = await FlagStore.fromEnv(c.env).effective(flagName(c.req.valid("param").name));
    return c.json(view(flag), 200, NO_STORE);
  })
  .openapi(putFlag, async (c) => {
    const name = flagName(c.req.valid("param").name);
    const { ttlSeconds, ...setting } = await readJsonBody(c.req.raw, PutFlagRequestSchema);
    const flag = await FlagStore.fromEnv(c.env).put(name, setting, ttlSeconds);
    console.log(
      JSON.stringify({ level: "info", msg: "flag override set", requestId: c.get("requestId"), flag: name }),
    );
    return c.json(view(flag), 200, NO_STORE);
  })
  .openapi(deleteFlag, async (c) => {
    const name = flagName(c.req.valid("param").name);
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
  .openapi(validateConfig, async (c) => c.json(await configReport(c.env), 200, NO_STORE));
