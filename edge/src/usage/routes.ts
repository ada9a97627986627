import { validationProblem } from "@chittyconnect/contract";
import { Hono } from "hono";
import { requireScope } from "../auth/bearer.ts";
import type { AppEnv } from "../env.ts";
import { limiterStub, ownerKey } from "../platform/rate-limit.ts";
import { usageRange, usageReport } from "./report.ts";
import { UsageQuerySchema } from "./schemas.ts";

/** `GET /api/v1/usage`: the caller's own ledger; no parameter can name another owner. */
export const usageRoutes = new Hono<AppEnv>().get("/", requireScope("usage:read"), async (c) => {
  const query = UsageQuerySchema.safeParse(c.req.query());
  if (!query.success) throw validationProblem(query.error, "Invalid query");
  const range = usageRange(query.data, Date.now());
  const { owner } = c.get("auth");
  const rows = await limiterStub(c.env, ownerKey(owner)).usage(range.from, range.to);
  return c.json(await usageReport(c.env, owner, range, rows), 200, { "cache-control": "no-store" });
});
