import { z } from "zod";
import { ROUTE_CLASSES } from "../platform/route-class.ts";

/** The widest range one query may ask for, in days (a leap year). */
export const MAX_RANGE_DAYS = 366;
export const DEFAULT_RANGE_DAYS = 30;

const IsoDay = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, "must be a date as YYYY-MM-DD")
  .refine((text) => {
    const date = new Date(`${text}T00:00:00Z`);
    return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === text;
  }, "must be a calendar date");

export const UsageQuerySchema = z.object({
  from: IsoDay.optional().describe(`First day, UTC (default: ${DEFAULT_RANGE_DAYS - 1} days before \`to\`)`),
  to: IsoDay.optional().describe("Last day, UTC, inclusive (default: today)"),
});

const Counters = {
  requests: z.number().int().min(0),
  limited: z.number().int().min(0).describe("Requests refused with 429 (they count in requests too)"),
  bytesIn: z.number().int().min(0).describe("Request bodies (their Content-Length)"),
  bytesOut: z.number().int().min(0).describe("Response bodies, as sent"),
  credentialsProvisioned: z.number().int().min(0).describe("Successful POST /credentials/provision calls"),
  requestsByRouteClass: z.partialRecord(z.enum(ROUTE_CLASSES), z.number().int().min(0)),
};

export const UsageBucketSchema = z.object({ day: IsoDay, ...Counters });
export type UsageBucket = z.infer<typeof UsageBucketSchema>;
export const UsageTotalsSchema = z.object(Counters);
export type UsageTotals = z.infer<typeof UsageTotalsSchema>;

export const UsageReportSchema = z.object({
  owner: z.string(),
  from: IsoDay,
  to: IsoDay,
  days: z.array(UsageBucketSchema).describe("Days with at least one request, oldest first"),
  totals: UsageTotalsSchema,
  current: z.object({
    bytesStored: z.number().int().min(0).describe("Documents' bytes held now (the quota's count)"),
    documents: z.number().int().min(0),
    sessionsActive: z
      .number()
      .int()
      .min(0)
      .nullable()
      .describe("Active sessions now; null when the sessions store did not answer"),
  }),
});
export type UsageReport = z.infer<typeof UsageReportSchema>;
