import { type EffectiveFlag, FLAG_NAMES, type FlagDefaults, type FlagSetting } from "./definitions.ts";

/**
 * The configuration report's findings about the flags themselves, in a module free of Workers
 * types so that check:deploy (Node) reports the same warnings for each deploy env's defaults.
 */
/** Each flag as its default alone would make it (no KV consulted), e.g. for check:deploy. */
export function defaultFlags(defaults: FlagDefaults): EffectiveFlag[] {
  return FLAG_NAMES.map((name) => ({
    name,
    setting: defaults[name],
    source: "default",
    default: defaults[name],
    override: null,
    invalidOverride: false,
  }));
}

/** What the flags section says about the flags themselves; check:deploy reports the warnings too. */
export function flagFindings(flags: readonly EffectiveFlag[]): { warnings: string[]; facts: string[] } {
  const warnings: string[] = [];
  const facts: string[] = [];
  const describe = (setting: FlagSetting) =>
    `${setting.enabled ? "enabled" : "disabled"}, ${setting.rolloutPercentage} %, ${setting.allowedOwners.length} listed owner(s)`;
  for (const flag of flags) {
    facts.push(`${flag.name}: default ${describe(flag.default)}`);
    if (flag.override) {
      facts.push(
        `${flag.name}: KV override applies (${describe(flag.override)}, ${flag.override.expiresAt ? `until ${flag.override.expiresAt}` : "no expiry"})`,
      );
    }
    if (flag.invalidOverride) warnings.push(`${flag.name}: the KV override does not parse and is ignored`);
    const { enabled, rolloutPercentage, allowedOwners } = flag.setting;
    if (enabled && rolloutPercentage === 0 && allowedOwners.length === 0) {
      warnings.push(`${flag.name}: enabled at 0 % with no listed owner, so it is on for nobody`);
    }
  }
  return { warnings, facts };
}
