import { z } from "zod";
import { badRequest } from "./errors.ts";
import {
  CategorySchema,
  type Field,
  FieldTypeSchema,
  type ItemContent,
  PurposeSchema,
  RecipeSchema,
  SectionRefSchema,
  SectionSchema,
  UrlSchema,
} from "./model.ts";
import { generateValue, newId } from "./random.ts";

/**
 * The FullItem body of POST and PUT. Read-only attributes a client echoes back (version,
 * timestamps, entropy…) are dropped, as Connect ignores them.
 */
const InputFieldSchema = z.object({
  id: z.string().min(1).optional(),
  label: z.string().optional(),
  type: FieldTypeSchema.default("STRING"),
  purpose: PurposeSchema.optional(),
  value: z.string().optional(),
  section: SectionRefSchema.optional(),
  generate: z.boolean().optional(),
  recipe: RecipeSchema.optional(),
});

const ItemInputSchema = z.object({
  id: z.string().optional(),
  title: z.string().default(""),
  vault: z.object({ id: z.string() }).optional(),
  category: CategorySchema,
  favorite: z.boolean().default(false),
  tags: z.array(z.string()).default([]),
  urls: z.array(UrlSchema).default([]),
  sections: z.array(SectionSchema).default([]),
  fields: z.array(InputFieldSchema).default([]),
});

export type ItemInput = z.infer<typeof ItemInputSchema>;

export function parseItemInput(body: unknown): ItemInput {
  const parsed = ItemInputSchema.safeParse(body);
  if (parsed.success) return parsed.data;
  const [issue] = parsed.error.issues;
  if (issue?.path[0] === "category") throw badRequest(issue.message);
  throw badRequest(`Invalid item: ${issue?.path.join(".") || "body"}: ${issue?.message}`);
}

/** Turns a request body into stored content: fields get ids, `generate` fields get fresh values. */
export function materializeItem(input: ItemInput): ItemContent {
  const fields = input.fields.map((field): Field => {
    const { generate, recipe, ...rest } = field;
    const value = generate ? generateValue(recipe ?? RecipeSchema.parse({})) : rest.value;
    return { ...rest, id: rest.id ?? newId(), ...(value === undefined ? {} : { value }) };
  });
  const content: ItemContent = {
    title: input.title,
    category: input.category,
    favorite: input.favorite,
    tags: input.tags,
    urls: input.urls,
    sections: input.sections,
    fields,
  };
  checkItemContent(content);
  return content;
}

/** Rejects what 1Password would refuse to save: duplicate ids and fields in unknown sections. */
export function checkItemContent(content: ItemContent): void {
  const sectionIds = new Set<string>();
  for (const section of content.sections) {
    if (sectionIds.has(section.id)) throw badRequest(`Invalid item: duplicate section id ${section.id}`);
    sectionIds.add(section.id);
  }
  const fieldIds = new Set<string>();
  for (const field of content.fields) {
    if (fieldIds.has(field.id)) throw badRequest(`Invalid item: duplicate field id ${field.id}`);
    fieldIds.add(field.id);
    if (field.section && !sectionIds.has(field.section.id)) {
      throw badRequest(
        `The item doesn't have a ${field.section.id} section (field ${field.label ?? field.id})`,
      );
    }
  }
}
