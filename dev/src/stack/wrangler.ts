import { join } from "node:path";

/** The repository's own wrangler (a dev dependency), never one on PATH. */
export const wranglerBin = (repoRoot: string): string => join(repoRoot, "node_modules/.bin/wrangler");

/**
 * What every `wrangler` we start runs with: no metrics, no prompt (CI), and no fetch of
 * workers.cloudflare.com/cf.json (offline it prints getaddrinfo ENOTFOUND; workerd then uses its
 * built-in `request.cf` placeholder, which the edge does not read).
 */
export function wranglerEnv(base: Record<string, string | undefined>): Record<string, string | undefined> {
  return { ...base, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", CI: "true" };
}

/**
 * `wrangler dev` with `args`, on 127.0.0.1:`port`, its DevTools inspector on a free port (two at
 * once would clash on the default 9229) and without the interactive hotkeys (no terminal here).
 */
export function wranglerDevArgs(port: number, args: readonly string[]): string[] {
  return [
    "dev",
    ...args,
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--inspector-port",
    "0",
    "--show-interactive-dev-session=false",
  ];
}
