import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

/** What `login` keeps: where the edge is and the token for it. Never an admin token. */
export interface StoredConfig {
  url?: string;
  token?: string;
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** `CHITTYCONNECT_CONFIG`, else `$XDG_CONFIG_HOME/chittyconnect/config.json`, else `~/.config/…`. */
export function configPath(env: NodeJS.ProcessEnv): string {
  if (env.CHITTYCONNECT_CONFIG) return env.CHITTYCONNECT_CONFIG;
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), ".config");
  return join(base, "chittyconnect", "config.json");
}

/** The stored config; `{}` when there is no file. Refuses a file others could read or write. */
export function readConfig(file: string): StoredConfig {
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new ConfigError(`cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? "error"})`);
  }
  if ((mode & 0o077) !== 0) {
    throw new ConfigError(
      `${file} is accessible to others (mode ${(mode & 0o777).toString(8)}); it holds a token: run chmod 600 ${file}`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    throw new ConfigError(`${file} is not valid JSON; run chittyconnect login again`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`${file} is not a JSON object; run chittyconnect login again`);
  }
  const { url, token } = parsed as Record<string, unknown>;
  if ((url !== undefined && typeof url !== "string") || (token !== undefined && typeof token !== "string")) {
    throw new ConfigError(`${file}: url and token must be strings; run chittyconnect login again`);
  }
  return { ...(url ? { url } : {}), ...(token ? { token } : {}) };
}

/**
 * Writes `text` to `file` with mode 0600, atomically: a temp file in the same folder (created 0600, so
 * the content is never readable by others even for a moment) renamed over the target.
 */
export function writePrivateFile(file: string, text: string): void {
  const temp = join(dirname(file), `.${Date.now().toString(36)}-${process.pid}.tmp`);
  try {
    writeFileSync(temp, text, { mode: 0o600, flag: "wx" });
    chmodSync(temp, 0o600);
    renameSync(temp, file);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}

export function writeConfig(file: string, config: StoredConfig): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writePrivateFile(file, `${JSON.stringify(config, null, 2)}\n`);
}

export function removeConfig(file: string): boolean {
  try {
    rmSync(file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
}

/** Flags win over the environment, which wins over the config file. */
export function resolveConnection(
  flags: { url?: string | undefined; token?: string | undefined },
  env: NodeJS.ProcessEnv,
  readStored: () => StoredConfig,
): { url: string | undefined; token: string | undefined } {
  let stored: StoredConfig | undefined;
  const fromFile = () => (stored ??= readStored());
  const url = flags.url ?? (env.CHITTYCONNECT_URL || undefined) ?? fromFile().url;
  const token = flags.token ?? (env.CHITTYCONNECT_TOKEN || undefined) ?? fromFile().token;
  return { url, token };
}
