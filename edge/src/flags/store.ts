import { configuredFlagDefaults, edgeConfig } from "../config.ts";
import {
  type EffectiveFlag,
  FLAG_NAMES,
  type FlagDefaults,
  type FlagName,
  type FlagSetting,
  type StoredOverride,
  StoredOverrideSchema,
} from "./definitions.ts";
import { flagOnFor } from "./evaluate.ts";

/** KV (binding `FLAGS`) holds one key per overridden flag. */
export const FLAG_KEY_PREFIX = "flag:";
/** KV refuses an `expiration` less than 60 s ahead, so no override may be shorter. */
export const MIN_OVERRIDE_TTL_SECONDS = 60;
export const MAX_OVERRIDE_TTL_SECONDS = 365 * 24 * 60 * 60;
/**
 * How long this isolate trusts a KV read. Every gated request asks for a flag; without a cache
 * each would pay a KV read (latency on a cold key, and a billed operation) for a value that
 * changes a few times a day. KV itself may serve a value up to 60 s old in other locations, so
 * 5 s more changes nothing for them; the isolate that writes an override updates its own cache at
 * once. An expiry is checked against the clock on every evaluation, so the cache never keeps an
 * expired override alive.
 */
export const FLAG_CACHE_MS = 5_000;

interface CachedRead {
  value: StoredOverride | null | "invalid";
  readAt: number;
}

type FlagCache = Map<FlagName, CachedRead>;
const isolateCache: FlagCache = new Map();

export interface FlagStoreOptions {
  /** Milliseconds since the epoch; tests move it instead of waiting for a TTL. */
  now?: () => number;
  /** Defaults to this isolate's cache; tests pass their own. */
  cache?: FlagCache;
}

export class FlagStore {
  readonly #kv: KVNamespace;
  readonly #defaults: FlagDefaults;
  readonly #now: () => number;
  readonly #cache: FlagCache;

  constructor(kv: KVNamespace, defaults: FlagDefaults, options: FlagStoreOptions = {}) {
    this.#kv = kv;
    this.#defaults = defaults;
    this.#now = options.now ?? Date.now;
    this.#cache = options.cache ?? isolateCache;
  }

  /** The store for a request's environment: its validated defaults and the `FLAGS` namespace. */
  static fromEnv(env: { FLAGS: KVNamespace } & object): FlagStore {
    return new FlagStore(env.FLAGS, configuredFlagDefaults(edgeConfig(env)));
  }

  async effective(name: FlagName): Promise<EffectiveFlag> {
    const stored = await this.#read(name);
    const live = stored !== null && stored !== "invalid" && !this.#expired(stored) ? stored : null;
    const fallback = this.#defaults[name];
    return {
      name,
      setting: live
        ? {
            enabled: live.enabled,
            rolloutPercentage: live.rolloutPercentage,
            allowedOwners: live.allowedOwners,
          }
        : fallback,
      source: live ? "kv" : "default",
      default: fallback,
      override: live,
      invalidOverride: stored === "invalid",
    };
  }

  all(): Promise<EffectiveFlag[]> {
    return Promise.all(FLAG_NAMES.map((name) => this.effective(name)));
  }

  async isOn(name: FlagName, owner: string | undefined): Promise<boolean> {
    return flagOnFor(name, (await this.effective(name)).setting, owner);
  }

  /** Stores an override (replacing any), optionally for `ttlSeconds`; this isolate sees it at once. */
  async put(name: FlagName, setting: FlagSetting, ttlSeconds?: number): Promise<EffectiveFlag> {
    const now = this.#now();
    const expiresAtMs = ttlSeconds === undefined ? null : now + ttlSeconds * 1000;
    const stored: StoredOverride = {
      ...setting,
      expiresAt: expiresAtMs === null ? null : new Date(expiresAtMs).toISOString(),
      updatedAt: new Date(now).toISOString(),
    };
    await this.#kv.put(
      `${FLAG_KEY_PREFIX}${name}`,
      JSON.stringify(stored),
      expiresAtMs === null ? {} : { expiration: Math.ceil(expiresAtMs / 1000) },
    );
    this.#cache.set(name, { value: stored, readAt: now });
    return this.effective(name);
  }

  /** Removes the override (if any); the default applies again. */
  async remove(name: FlagName): Promise<void> {
    await this.#kv.delete(`${FLAG_KEY_PREFIX}${name}`);
    this.#cache.set(name, { value: null, readAt: this.#now() });
  }

  #expired(stored: StoredOverride): boolean {
    return stored.expiresAt !== null && Date.parse(stored.expiresAt) <= this.#now();
  }

  async #read(name: FlagName): Promise<StoredOverride | null | "invalid"> {
    const now = this.#now();
    const cached = this.#cache.get(name);
    if (cached && now - cached.readAt < FLAG_CACHE_MS && now >= cached.readAt) return cached.value;
    let value: StoredOverride | null | "invalid";
    try {
      const raw = await this.#kv.get(`${FLAG_KEY_PREFIX}${name}`, "json");
      const parsed = StoredOverrideSchema.safeParse(raw);
      value = raw === null ? null : parsed.success ? parsed.data : "invalid";
    } catch (error) {
      // KV unreachable (or the stored text is not JSON): the default applies, uncached, so the
      // next request asks again.
      console.error(
        JSON.stringify({
          level: "error",
          msg: "flag override unreadable; using the default",
          flag: name,
          error: error instanceof Error ? error.name : typeof error,
        }),
      );
      return error instanceof SyntaxError ? "invalid" : null;
    }
    if (value === "invalid") {
      console.error(
        JSON.stringify({ level: "error", msg: "flag override invalid; using the default", flag: name }),
      );
    }
    this.#cache.set(name, { value, readAt: now });
    return value;
  }
}
