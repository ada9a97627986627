import { OwnerIdSchema } from "@chittyconnect/contract";
import { z } from "zod";

const MAX_RULES = 1000;
const MAX_LIST = 200;

/**
 * A path pattern: `/`-separated segments where `**` (a whole segment) matches any number of
 * segments, `*` inside a segment matches any text within that one segment, anything else is literal.
 */
export const PathPatternSchema = z
  .string()
  .min(1)
  .max(400)
  .refine(
    (pattern) => pattern.split("/").every((segment) => segment.length > 0),
    "must not contain empty segments",
  )
  .refine(
    (pattern) => pattern.split("/").every((segment) => segment === "**" || !segment.includes("**")),
    "'**' must be a whole segment",
  );

const list = <T extends z.ZodType>(item: T) => z.array(item).min(1).max(MAX_LIST);

export const PolicyRuleSchema = z
  .object({
    owners: list(z.union([z.literal("*"), OwnerIdSchema])),
    services: list(z.string().min(1).max(64)),
    actions: list(z.enum(["provision", "rotate"])),
    paths: list(PathPatternSchema),
    purposes: list(z.string().min(1).max(200)),
  })
  .strict();
export type PolicyRule = z.infer<typeof PolicyRuleSchema>;

export const PolicySchema = z
  .object({
    version: z.literal(1),
    rules: z.array(PolicyRuleSchema).max(MAX_RULES),
  })
  .strict();
export type Policy = z.infer<typeof PolicySchema>;
