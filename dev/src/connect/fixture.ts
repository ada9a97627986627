import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { z } from "zod";
import {
  CategorySchema,
  FieldTypeSchema,
  IdSchema,
  PurposeSchema,
  SectionRefSchema,
  SectionSchema,
  UrlSchema,
  VaultTypeSchema,
} from "./model.ts";

/**
 * The vault file the dev server starts from: vaults with their items, every id fixed so that
 * tests and people can refer to them. Timestamps and versions are set at load time.
 */
const FixtureFieldSchema = z.object({
  id: z.string().min(1),
  label: z.string(),
  type: FieldTypeSchema,
  purpose: PurposeSchema.optional(),
  value: z.string(),
  section: SectionRefSchema.optional(),
});

const FixtureItemSchema = z.object({
  id: IdSchema,
  title: z.string(),
  category: CategorySchema,
  favorite: z.boolean().default(false),
  tags: z.array(z.string()).default([]),
  urls: z.array(UrlSchema).default([]),
  sections: z.array(SectionSchema).default([]),
  fields: z.array(FixtureFieldSchema),
});

const FixtureVaultSchema = z.object({
  id: IdSchema,
  name: z.string().min(1),
  description: z.string().optional(),
  type: VaultTypeSchema.default("USER_CREATED"),
  items: z.array(FixtureItemSchema),
});

const FixtureSchema = z.object({ vaults: z.array(FixtureVaultSchema) }).superRefine((fixture, ctx) => {
  const seen = new Set<string>();
  const ids = fixture.vaults.flatMap((vault) => [vault.id, ...vault.items.map((item) => item.id)]);
  for (const id of ids) {
    if (seen.has(id)) ctx.addIssue({ code: "custom", message: `id ${id} is used twice` });
    seen.add(id);
  }
});

export type Fixture = z.infer<typeof FixtureSchema>;

export const DEFAULT_FIXTURE_PATH = resolve(import.meta.dirname, "../../fixtures/vault.json");

export function loadFixture(path: string = DEFAULT_FIXTURE_PATH): Fixture {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new Error(`cannot read the Connect fixture ${path}: ${(error as Error).message}`);
  }
  const parsed = FixtureSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map(
    (issue) => `  - ${issue.path.join(".") || "(file)"}: ${issue.message}`,
  );
  throw new Error(`the Connect fixture ${path} is not valid:\n${lines.join("\n")}`);
}
