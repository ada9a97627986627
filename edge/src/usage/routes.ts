import { createRoute } from "@hono/zod-openapi";
import { openApiApp, problems, reply, scoped } from "../openapi-parts.ts";
import { limiterStub, ownerKey } from "../platform/rate-limit.ts";
import { flushUsage } from "../platform/usage.ts";
import { usageRange, usageReport } from "./report.ts";
import { UsageQuerySchema, UsageReportSchema } from "./schemas.ts";

const usageRoute = createRoute({
  method: "get",
  path: "/",
  tags: ["usage"],
  summary: "The caller's usage: daily buckets and totals for a range of days (UTC)",
  description:
    "Requests by route class (429s included, also counted as `limited`), bytes in and out, successful " +
    "credential provisions; plus the documents' bytes and sessions held now. Ranges up to 366 days; " +
    "default the last 30.",
  ...scoped("usage:read"),
  request: { query: UsageQuerySchema },
  responses: { 200: reply("The caller's usage", UsageReportSchema), ...problems(400, 401, 403, 429) },
});

/** `GET /api/v1/usage`: the caller's own ledger; no parameter can name another owner. */
export const usageRoutes = openApiApp().openapi(usageRoute, async (c) => {
  const range = usageRange(c.req.valid("query"), Date.now());
  const { owner } = c.get("auth");
  await flushUsage(c, owner);
  const rows = await limiterStub(c.env, ownerKey(owner)).usage(range.from, range.to);
  return c.json(await usageReport(c.env, owner, range, rows), 200, { "cache-control": "no-store" });
});
