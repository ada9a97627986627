import { z } from "zod";

/** The parts of Connect's item model that the request bodies and the fixture share. */
export const CATEGORIES = [
  "LOGIN",
  "PASSWORD",
  "API_CREDENTIAL",
  "SERVER",
  "DATABASE",
  "CREDIT_CARD",
  "MEMBERSHIP",
  "PASSPORT",
  "SOFTWARE_LICENSE",
  "OUTDOOR_LICENSE",
  "SECURE_NOTE",
  "WIRELESS_ROUTER",
  "BANK_ACCOUNT",
  "DRIVER_LICENSE",
  "IDENTITY",
  "REWARD_PROGRAM",
  "DOCUMENT",
  "EMAIL_ACCOUNT",
  "SOCIAL_SECURITY_NUMBER",
  "MEDICAL_RECORD",
  "SSH_KEY",
  "CUSTOM",
] as const;

// The spec says TOTP while the JS SDK's enum sends OTP; Connect takes both.
const FIELD_TYPES = [
  "STRING",
  "EMAIL",
  "CONCEALED",
  "URL",
  "TOTP",
  "OTP",
  "DATE",
  "MONTH_YEAR",
  "MENU",
] as const;
const PURPOSES = ["", "USERNAME", "PASSWORD", "NOTES"] as const;
export const CHARACTER_SETS = ["LETTERS", "DIGITS", "SYMBOLS"] as const;
const VAULT_TYPES = ["USER_CREATED", "PERSONAL", "EVERYONE", "TRANSFER"] as const;

/** Connect's ids: 26 lowercase letters and digits. */
export const ID_PATTERN = /^[\da-z]{26}$/;

export const IdSchema = z.string().regex(ID_PATTERN, "must be 26 lowercase letters and digits");
export const CategorySchema = z.enum(CATEGORIES, { error: "Invalid item category" });
// The spec's own PATCH examples write "string", so the type is case-insensitive.
export const FieldTypeSchema = z
  .string()
  .transform((type) => type.toUpperCase())
  .pipe(z.enum(FIELD_TYPES));
export const PurposeSchema = z.enum(PURPOSES);
export const VaultTypeSchema = z.enum(VAULT_TYPES);
export const SectionSchema = z.object({ id: z.string().min(1), label: z.string().optional() });
export const SectionRefSchema = z.object({ id: z.string().min(1) });
export const UrlSchema = z.object({
  href: z.string(),
  label: z.string().optional(),
  primary: z.boolean().optional(),
});
export const RecipeSchema = z.object({
  length: z.number().int().min(1).max(64).default(32),
  characterSets: z.array(z.enum(CHARACTER_SETS)).max(3).default([]),
  excludeCharacters: z.string().default(""),
});

type Category = z.infer<typeof CategorySchema>;
type FieldType = z.infer<typeof FieldTypeSchema>;
type Purpose = z.infer<typeof PurposeSchema>;
type VaultType = z.infer<typeof VaultTypeSchema>;
type Section = z.infer<typeof SectionSchema>;
type ItemUrl = z.infer<typeof UrlSchema>;
export type Recipe = z.infer<typeof RecipeSchema>;
export type CharacterSet = (typeof CHARACTER_SETS)[number];

export interface Field {
  id: string;
  label?: string;
  type: FieldType;
  purpose?: Purpose;
  value?: string;
  section?: { id: string };
}

/** What a client controls about an item; the store adds identity, version and timestamps. */
export interface ItemContent {
  title: string;
  category: Category;
  favorite: boolean;
  tags: string[];
  urls: ItemUrl[];
  sections: Section[];
  fields: Field[];
}

export interface StoredItem extends ItemContent {
  id: string;
  vaultId: string;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface StoredVault {
  id: string;
  name: string;
  description?: string;
  type: VaultType;
  attributeVersion: number;
  contentVersion: number;
  createdAt: Date;
  updatedAt: Date;
  items: Map<string, StoredItem>;
}
