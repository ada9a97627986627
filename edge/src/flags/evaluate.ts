import type { FlagName, FlagSetting } from "./definitions.ts";

/**
 * An owner's bucket (0–99) for one flag: the first four bytes of SHA-256(`flag:owner`) as an
 * unsigned integer, modulo 100. SHA-256 rather than a faster non-cryptographic hash (FNV-1a):
 * owner ids are long strings that differ in a few characters (`01-C-PROD-0001-…`), and FNV's
 * weak mixing of similar inputs skews small buckets, while SHA-256 spreads them evenly; the
 * modulo bias of 2^32 over 100 is below one in ten million. It is the same everywhere (WebCrypto
 * in the Worker, node:crypto elsewhere), so an operator can compute a bucket offline. The flag name
 * is part of the input so that owners at 10 % of one flag are not the same owners as at 10 % of
 * another.
 */
export async function ownerBucket(flag: FlagName, owner: string): Promise<number> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${flag}:${owner}`));
  return new DataView(digest).getUint32(0) % 100;
}

/**
 * Whether a flag is on for an owner: `enabled && (owner listed || bucket < rolloutPercentage)`.
 * Without an owner (the admin token, unauthenticated routes) only a flag on for everyone is on.
 */
export async function flagOnFor(
  flag: FlagName,
  setting: FlagSetting,
  owner: string | undefined,
): Promise<boolean> {
  if (!setting.enabled) return false;
  if (setting.rolloutPercentage >= 100) return true;
  if (owner === undefined) return false;
  if (setting.allowedOwners.includes(owner)) return true;
  return (await ownerBucket(flag, owner)) < setting.rolloutPercentage;
}
