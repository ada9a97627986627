import {
  chmodSync,
  chownSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { quoteDotenvValue } from "../../scripts/deploy-checks/dotenv.ts";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const TUNNEL_TOKEN = Buffer.from(
  JSON.stringify({ a: "account-tag", t: "tunnel-uuid", s: "c2VjcmV0" }),
).toString("base64");
export const TUNNEL_ID = "6ff42ae2-765d-4adf-8112-31c55c1551ef";

/** Each secret file, its content, and the group (service gid) that must read it. */
export const SECRET_FILES: Record<string, { content: string; gid: number }> = {
  "1password-credentials.json": { content: '{"verifier":{},"encCredentials":{},"version":"2"}', gid: 999 },
  op_connect_token: { content: "connect-token-from-op-connect-token-create\n", gid: 1000 },
  edge_signing_key: { content: "edge-signing-key-with-at-least-32-bytes-0123\n", gid: 1000 },
  edge_signing_key_previous: { content: "", gid: 1000 },
  audit_hmac_key: { content: "audit-hmac-key-with-at-least-32-bytes-456789\n", gid: 1000 },
  audit_chain_key: { content: "audit-chain-key-with-at-least-32-bytes-4567\n", gid: 1000 },
  cloudflare_tunnel_token: { content: `${TUNNEL_TOKEN}\n`, gid: 65532 },
  "cloudflared-credentials.json": {
    content: JSON.stringify({ AccountTag: "account-tag", TunnelSecret: "c2VjcmV0", TunnelID: TUNNEL_ID }),
    gid: 65532,
  },
};

export const VALID_ENV: Record<string, string> = {
  SECRETS_DIR: "./secrets",
  ACCESS_JWKS_URL: "https://team.cloudflareaccess.com/cdn-cgi/access/certs",
  ACCESS_AUDIENCE: "aud-tag",
  POLICY_PATH: "./policy.yaml",
};

export const toDotenv = (env: Record<string, string>) =>
  Object.entries(env)
    .map(([key, value]) => `${key}=${quoteDotenvValue(value)}`)
    .join("\n");

/**
 * Makes a file readable by one group and its owner only, as the README asks (chgrp + 0440).
 * Only root can hand a file to another group; elsewhere it becomes world-readable (0444), which
 * the check accepts with a warning, so the suites pass unprivileged too.
 */
export function grantTo(path: string, gid: number, mode = 0o440): void {
  if (process.getuid?.() === 0) {
    chownSync(path, 0, gid);
    chmodSync(path, mode);
  } else {
    chmodSync(path, 0o444);
  }
}

export const WORLD_READABLE = /readable by every user/;

/** A deployment directory: .env, policy.yaml and secrets/, each secret granted to its reader. */
export function deploymentDir(overrides: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "chitty-deploy-"));
  mkdirSync(join(dir, "secrets"));
  for (const [name, { content, gid }] of Object.entries(SECRET_FILES)) {
    const path = join(dir, "secrets", name);
    writeFileSync(path, overrides[name] ?? content);
    grantTo(path, gid);
  }
  copyFileSync(join(ROOT, "origin/fixtures/policy.yaml"), join(dir, "policy.yaml"));
  writeFileSync(join(dir, ".env"), toDotenv(VALID_ENV));
  return dir;
}

/** The repository's cloudflared/config.yml with a real-looking tunnel id and hostname. */
export function tunnelConfig(dir: string, edit: (text: string) => string = (text) => text): string {
  const text = readFileSync(join(ROOT, "cloudflared/config.yml"), "utf8")
    .replace("REPLACE_WITH_TUNNEL_ID", TUNNEL_ID)
    .replace("origin.example.com", "origin.chitty.cc");
  mkdirSync(join(dir, "cloudflared"), { recursive: true });
  const path = join(dir, "cloudflared/config.yml");
  writeFileSync(path, edit(text));
  chmodSync(path, 0o644);
  return path;
}
