import { z } from "zod";

/**
 * An owner's ChittyID, e.g. `01-C-PROD-0001-P-2501-A-X`. Kept permissive on structure (the
 * identity service owns the exact grammar) but strict on alphabet and length, because the value is
 * placed in a signed header and in storage keys.
 */
export const OwnerIdSchema = z
  .string()
  .min(3)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/, "must be letters, digits, '-' or '_'");
export type OwnerId = z.infer<typeof OwnerIdSchema>;
