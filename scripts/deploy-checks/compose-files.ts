import { parse } from "yaml";

/**
 * Reading compose files as `docker compose` does for the parts the deploy check needs: the list
 * of files (COMPOSE_FILE in .env), `${VAR}` interpolation from .env, and the merge of an override
 * file, including compose's `!override` and `!reset` tags.
 */
const MAX_COMPOSE_BYTES = 262_144;
export const DEFAULT_COMPOSE_FILE = "docker-compose.yml";

export type Doc = Record<string, unknown>;
/** A YAML/JSON map (not null, not a list): what every deploy check walks. */
export const isObject = (value: unknown): value is Doc =>
  value !== null && typeof value === "object" && !Array.isArray(value);

const OVERRIDE = "!override";
const RESET = "!reset";
// Each tag becomes a one-key marker object the merge below understands.
const MERGE_TAGS = [OVERRIDE, RESET].flatMap((tag) => [
  { tag, collection: "map" as const, resolve: (value: { toJSON(): unknown }) => ({ [tag]: value.toJSON() }) },
  { tag, collection: "seq" as const, resolve: (value: { toJSON(): unknown }) => ({ [tag]: value.toJSON() }) },
  { tag, resolve: (value: string) => ({ [tag]: value }) },
]);

export function parseComposeText(text: string): unknown {
  if (Buffer.byteLength(text) > MAX_COMPOSE_BYTES) throw new Error(`larger than ${MAX_COMPOSE_BYTES} bytes`);
  // `merge` resolves the `<<: *hardening` keys the way compose does.
  return parse(text, { merge: true, maxAliasCount: 100, customTags: MERGE_TAGS });
}

/** Sequences compose replaces instead of merging when an override file sets them. */
const REPLACED_SEQUENCES = new Set(["command", "entrypoint", "test"]);

/** `base` with `override` merged in: maps key by key, most lists appended, tagged values as tagged. */
export function mergeCompose(base: unknown, override: unknown, key = ""): unknown {
  if (isObject(override) && OVERRIDE in override) return stripTags(override[OVERRIDE]);
  if (isObject(override) && RESET in override) return undefined;
  if (isObject(base) && isObject(override)) {
    const merged: Doc = { ...base };
    for (const [name, value] of Object.entries(override)) {
      const next = mergeCompose(base[name], value, name);
      if (next === undefined) delete merged[name];
      else merged[name] = next;
    }
    return merged;
  }
  if (Array.isArray(base) && Array.isArray(override) && !REPLACED_SEQUENCES.has(key)) {
    const seen = new Set(base.map((item) => JSON.stringify(item)));
    return [...base, ...override.filter((item) => !seen.has(JSON.stringify(item)))];
  }
  return stripTags(override);
}

/** A single file's tags mean nothing without a base: `!override` keeps the value, `!reset` drops it. */
function stripTags(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripTags);
  if (!isObject(value)) return value;
  if (OVERRIDE in value) return stripTags(value[OVERRIDE]);
  const out: Doc = {};
  for (const [name, item] of Object.entries(value)) {
    if (isObject(item) && RESET in item) continue;
    out[name] = stripTags(item);
  }
  return out;
}

/** The compose files `docker compose` will read: COMPOSE_FILE from .env (`:`-separated), or the default. */
export function composeFileList(env: Readonly<Record<string, string>>): string[] {
  const list = (env.COMPOSE_FILE ?? "")
    .split(":")
    .map((file) => file.trim())
    .filter((file) => file !== "");
  return list.length > 0 ? list : [DEFAULT_COMPOSE_FILE];
}

export class InterpolationError extends Error {
  override readonly name = "InterpolationError";
}

/**
 * `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}`, `${VAR?message}` and `$$`, as
 * compose interpolates them; blank counts as unset for the `:` forms.
 */
export function interpolate(text: string, env: Readonly<Record<string, string>>): string {
  return text.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}/g,
    (match, name?: string, colon?: string, operator?: string, argument?: string) => {
      if (match === "$$") return "$";
      const value = env[name ?? ""];
      const missing = value === undefined || (colon === ":" && value === "");
      if (operator === "-") return missing ? (argument ?? "") : (value ?? "");
      if (operator === "?" && missing) throw new InterpolationError(`${name}: ${argument || "is required"}`);
      return value ?? "";
    },
  );
}

/** Every variable a compose text reads through `${...}`. */
export function referencedVariables(text: string): Set<string> {
  return new Set([...text.matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((match) => match[1] ?? ""));
}
