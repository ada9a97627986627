import { z } from "zod";

export const SCOPES = [
  "sessions:read",
  "sessions:write",
  "documents:read",
  "documents:write",
  "credentials:provision",
  "credentials:rotate",
  "usage:read",
  "admin",
] as const;

export const ScopeSchema = z.enum(SCOPES);
export type Scope = z.infer<typeof ScopeSchema>;

/** Non-empty, duplicate-free; order is normalised so stored rows compare equal. */
export const ScopeListSchema = z
  .array(ScopeSchema)
  .min(1)
  .max(SCOPES.length)
  .refine((scopes) => new Set(scopes).size === scopes.length, "scopes must not repeat")
  .transform((scopes) => SCOPES.filter((scope) => scopes.includes(scope)));
