import { z } from "zod";

/**
 * The feature flags and their defaults. A flag gates one capability per owner; its default comes
 * from the `FEATURE_FLAGS` wrangler var (one JSON object, validated with the rest of the edge's
 * configuration in config.ts), an admin can override it in KV (`FLAGS`) for a while (store.ts).
 */
export const FLAG_NAMES = ["durableObjects", "r2Storage", "credentials", "msgpack"] as const;
export type FlagName = (typeof FLAG_NAMES)[number];

export const FlagNameSchema = z.enum(FLAG_NAMES);

/** An owner id can be at most this long (the token format's owner rule is looser; this bounds KV values). */
const MAX_OWNER_LENGTH = 128;
export const MAX_ALLOWED_OWNERS = 100;

export const FlagSettingSchema = z
  .object({
    enabled: z.boolean(),
    /** The share of owners (0–100) for which the flag is on, chosen by a stable hash of the owner. */
    rolloutPercentage: z.number().int().min(0).max(100),
    /** Owners for whom the flag is on whatever the rollout (still only while `enabled`). */
    allowedOwners: z.array(z.string().min(1).max(MAX_OWNER_LENGTH)).max(MAX_ALLOWED_OWNERS),
  })
  .strict();
export type FlagSetting = z.infer<typeof FlagSettingSchema>;

/** Every flag is fully on unless the configuration says otherwise. */
export const FLAG_ON: FlagSetting = { enabled: true, rolloutPercentage: 100, allowedOwners: [] };

/** `FEATURE_FLAGS`: any subset of the flags, each with any subset of its members (the rest from FLAG_ON). */
export const FeatureFlagsVarSchema = z
  .object(
    Object.fromEntries(FLAG_NAMES.map((name) => [name, FlagSettingSchema.partial().optional()])) as Record<
      FlagName,
      z.ZodOptional<ReturnType<typeof FlagSettingSchema.partial>>
    >,
  )
  .strict();

export type FlagDefaults = Record<FlagName, FlagSetting>;

export const StoredOverrideSchema = FlagSettingSchema.extend({
  /** ISO time after which the override is ignored (KV also drops the key then); null: until deleted. */
  expiresAt: z.iso.datetime().nullable(),
  updatedAt: z.iso.datetime(),
});
export type StoredOverride = z.infer<typeof StoredOverrideSchema>;

export interface EffectiveFlag {
  name: FlagName;
  /** What evaluation uses: the override while it applies, else the default. */
  setting: FlagSetting;
  source: "default" | "kv";
  default: FlagSetting;
  override: StoredOverride | null;
  /** A stored value that does not parse: ignored (the default applies), and reported. */
  invalidOverride: boolean;
}

/**
 * The defaults of every flag from the two variables that may set them. `ENABLE_DURABLE_OBJECTS`
 * is the older switch for `durableObjects` and stays its shorthand; setting both would leave two
 * sources for one flag, so config.ts refuses that.
 */
export function flagDefaults(
  featureFlags: z.infer<typeof FeatureFlagsVarSchema>,
  enableDurableObjects: "true" | "false" | undefined,
): FlagDefaults {
  const defaults = Object.fromEntries(
    FLAG_NAMES.map((name) => [name, { ...FLAG_ON, ...featureFlags[name] }]),
  ) as FlagDefaults;
  if (featureFlags.durableObjects === undefined && enableDurableObjects === "false") {
    defaults.durableObjects = { ...FLAG_ON, enabled: false };
  }
  return defaults;
}
