import { accessSync, chmodSync, constants, mkdirSync, writeFileSync } from "node:fs";
import { delimiter, join, resolve } from "node:path";
import { renderNginxConfig } from "../../../nginx/render.ts";
import { renderBanner } from "./banner.ts";
import { type ManagedProcess, startProcess, stopProcess, waitForHttp } from "./processes.ts";
import { loadOrCreateSecrets } from "./secrets.ts";
import { readStackSettings, type StackSettings } from "./settings.ts";

/**
 * `npm start`: the dev Connect server, the origin, nginx (when installed) and the edge under
 * `wrangler dev`, wired together with generated keys, then a banner with a fresh token.
 */
const repoRoot = resolve(import.meta.dirname, "../../..");
const running: ManagedProcess[] = [];
let stopping = false;

function log(message: string): void {
  process.stdout.write(`stack  │ ${message}\n`);
}

function findNginx(): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/local/sbin"];
  for (const dir of dirs) {
    const candidate = join(dir, "nginx");
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not in this directory.
    }
  }
  return undefined;
}

async function stopAll(exitCode: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    log("stopping…");
    // Reverse order: the edge goes first so nothing calls a stopped origin.
    for (const managed of [...running].reverse()) await stopProcess(managed);
    log("stopped");
  }
  process.exit(exitCode);
}

async function main(settings: StackSettings): Promise<void> {
  const { secrets, created } = loadOrCreateSecrets(settings.stateDir);
  const adminToken = settings.ADMIN_TOKEN ?? secrets.adminToken;
  log(
    created ? `generated keys in ${settings.stateDir}/secrets.json` : `using keys from ${settings.stateDir}`,
  );
  const node = process.execPath;
  const baseEnv = { PATH: process.env.PATH, HOME: process.env.HOME, LANG: process.env.LANG };
  const connectUrl = `http://127.0.0.1:${settings.CONNECT_PORT}`;
  const originUrl = `http://127.0.0.1:${settings.ORIGIN_PORT}`;
  const edgeUrl = `http://127.0.0.1:${settings.EDGE_PORT}`;
  const auditLog = join(settings.stateDir, "audit", "audit.log");

  const connect = startProcess("connect", node, ["dev/src/connect/main.ts"], {
    cwd: repoRoot,
    env: {
      ...baseEnv,
      CONNECT_PORT: String(settings.CONNECT_PORT),
      CONNECT_HOST: "127.0.0.1",
      CONNECT_TOKEN: secrets.connectToken,
    },
  });
  running.push(connect);
  await waitForHttp(`${connectUrl}/heartbeat`, connect);

  // node:sqlite (the audit index) warns that it is experimental on every start.
  const originArgs = ["--disable-warning=ExperimentalWarning", "origin/src/main.ts"];
  const origin = startProcess("origin", node, originArgs, {
    cwd: repoRoot,
    env: {
      ...baseEnv,
      HOST: "127.0.0.1",
      PORT: String(settings.ORIGIN_PORT),
      LOG_LEVEL: settings.LOG_LEVEL,
      OP_CONNECT_HOST: connectUrl,
      OP_CONNECT_TOKEN: secrets.connectToken,
      EDGE_SIGNING_KEY: secrets.edgeSigningKey,
      AUDIT_HMAC_KEY: secrets.auditHmacKey,
      AUDIT_CHAIN_KEY: secrets.auditChainKey,
      EDGE_URL: edgeUrl,
      // Anchored often locally, so a cut or edited log shows within seconds.
      AUDIT_ANCHOR_INTERVAL_SECONDS: "5",
      POLICY_FILE: join(repoRoot, "origin/fixtures/policy.yaml"),
      AUDIT_LOG_FILE: auditLog,
    },
  });
  running.push(origin);
  await waitForHttp(`${originUrl}/healthz`, origin);

  let upstreamForEdge = originUrl;
  let nginxUrl: string | undefined;
  let nginxNote = "";
  const nginxBinary = settings.STACK_NGINX === "off" ? undefined : findNginx();
  if (nginxBinary) {
    const prefix = join(settings.stateDir, "nginx");
    mkdirSync(join(prefix, "logs"), { recursive: true });
    // Started as root, nginx's workers run as `nobody` and must reach their temp and cache dirs;
    // the state dir stays unlistable (0711) and secrets.json stays 0600.
    chmodSync(settings.stateDir, 0o711);
    chmodSync(prefix, 0o755);
    const confFile = join(prefix, "nginx.conf");
    writeFileSync(
      confFile,
      renderNginxConfig({
        listenPort: settings.NGINX_PORT,
        upstream: `127.0.0.1:${settings.ORIGIN_PORT}`,
        prefix,
        accessLog: join(prefix, "logs", "access.log"),
        errorLog: join(prefix, "logs", "error.log"),
        pidFile: join(prefix, "nginx.pid"),
      }),
    );
    const nginx = startProcess("nginx", nginxBinary, ["-p", prefix, "-c", confFile, "-g", "daemon off;"], {
      cwd: repoRoot,
      env: baseEnv,
    });
    running.push(nginx);
    nginxUrl = `http://127.0.0.1:${settings.NGINX_PORT}`;
    await waitForHttp(`${nginxUrl}/healthz`, nginx);
    upstreamForEdge = nginxUrl;
    nginxNote = "(edge → nginx → origin, as in production)";
  } else {
    nginxNote =
      settings.STACK_NGINX === "off"
        ? "(STACK_NGINX=off: edge → origin directly)"
        : "(nginx is not installed: edge → origin directly; `apt-get install nginx` to add it)";
    log(nginxNote);
  }

  const wranglerState = join(settings.stateDir, "wrangler");
  const edgeEnvFile = join(settings.stateDir, "edge.env");
  writeFileSync(
    edgeEnvFile,
    `ADMIN_TOKEN=${adminToken}\nEDGE_SIGNING_KEY=${secrets.edgeSigningKey}\nORIGIN_URL=${upstreamForEdge}\n`,
    { mode: 0o600 },
  );
  const wrangler = join(repoRoot, "node_modules/.bin/wrangler");
  const wranglerEnv = { ...baseEnv, WRANGLER_SEND_METRICS: "false", CI: "true" };
  const migrate = startProcess(
    "migrate",
    wrangler,
    [
      "d1",
      "migrations",
      "apply",
      "DB",
      "--local",
      "--persist-to",
      wranglerState,
      "--config",
      "edge/wrangler.jsonc",
    ],
    { cwd: repoRoot, env: wranglerEnv },
  );
  running.push(migrate);
  const migrateCode = await migrate.exited;
  running.splice(running.indexOf(migrate), 1);
  if (migrateCode !== 0) throw new Error("applying the edge's D1 migrations failed (see above)");

  const edge = startProcess(
    "edge",
    wrangler,
    [
      "dev",
      "--config",
      "edge/wrangler.jsonc",
      "--ip",
      "127.0.0.1",
      "--port",
      String(settings.EDGE_PORT),
      "--persist-to",
      wranglerState,
      "--env-file",
      edgeEnvFile,
      "--var",
      `ORIGIN_URL:${upstreamForEdge}`,
      "--inspector-port",
      "0",
      "--show-interactive-dev-session=false",
    ],
    { cwd: repoRoot, env: wranglerEnv },
  );
  running.push(edge);
  await waitForHttp(`${edgeUrl}/health`, edge, { timeoutMs: 120_000, accept: (s) => s === 200 });

  const minted = await fetch(`${edgeUrl}/api/v1/admin/tokens`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: JSON.stringify({
      owner: settings.STACK_OWNER,
      scopes: ["credentials:provision", "credentials:rotate", "usage:read"],
      label: "local stack banner",
      expiresInSeconds: 30 * 24 * 3600,
    }),
  });
  if (minted.status !== 201)
    throw new Error(`minting the banner token failed: ${minted.status} ${await minted.text()}`);
  const { token } = (await minted.json()) as { token: string };

  process.stdout.write(
    renderBanner({
      edgeUrl,
      token,
      owner: settings.STACK_OWNER,
      adminToken,
      originUrl,
      connectUrl,
      nginxUrl,
      nginxNote,
      auditLog,
    }),
  );

  for (const managed of running) {
    void managed.exited.then((code) => {
      if (stopping) return;
      log(`${managed.name} exited unexpectedly (code ${code}); stopping the stack`);
      void stopAll(1);
    });
  }
}

process.on("SIGINT", () => void stopAll(0));
process.on("SIGTERM", () => void stopAll(0));

let settings: StackSettings;
try {
  settings = readStackSettings(process.env, repoRoot);
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(2);
}
main(settings).catch(async (error: unknown) => {
  log(`failed: ${error instanceof Error ? error.message : String(error)}`);
  await stopAll(1);
});
