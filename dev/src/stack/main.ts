import { randomBytes } from "node:crypto";
import { accessSync, chmodSync, constants, mkdirSync, writeFileSync } from "node:fs";
import { delimiter, join, resolve } from "node:path";
import { renderNginxConfig } from "../../../nginx/render.ts";
import { renderBanner } from "./banner.ts";
import { firstBusyPort } from "./ports.ts";
import { type ManagedProcess, startProcess, stopProcess, waitForChild } from "./processes.ts";
import { redactUrlCredentials } from "./redact.ts";
import { findRedisServer, pingRedis, redisArgs } from "./redis.ts";
import { loadOrCreateSecrets } from "./secrets.ts";
import { edgeRateLimitVars, readStackSettings, type StackSettings } from "./settings.ts";
import { wranglerBin, wranglerDevArgs, wranglerEnv } from "./wrangler.ts";

/**
 * `npm start`: the dev Connect server, the origin, nginx (when installed) and the edge under
 * `wrangler dev`, wired together with generated keys, then a banner with a fresh token.
 */
const repoRoot = resolve(import.meta.dirname, "../../..");
const running: ManagedProcess[] = [];
/** Set once, by the first reason to stop; later reasons wait for the same shutdown. */
let stopping: Promise<never> | undefined;
let up = false;
/** Shell convention (128 + signal number), and what `npm start` reports for Ctrl-C whatever the child says. */
const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;

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

function stopAll(exitCode: number, reason?: string): Promise<never> {
  stopping ??= (async () => {
    if (reason) log(reason);
    const started = running.length;
    // Reverse order: the edge goes first so nothing calls a stopped origin. Start-up goes on while
    // this runs (a health check can succeed just after Ctrl-C and the next child start), so the list
    // is read again after each stop: a child started meanwhile is stopped too, never orphaned in its
    // own process group.
    for (let managed = running.pop(); managed; managed = running.pop()) await stopProcess(managed);
    if (started > 0) log(up ? "stopped" : "stopped everything it had started; nothing is left running");
    process.exit(exitCode);
  })();
  return stopping;
}

function onSignal(signal: keyof typeof SIGNAL_EXIT_CODES): void {
  const what = signal === "SIGINT" ? "Ctrl-C" : signal;
  void stopAll(SIGNAL_EXIT_CODES[signal], up ? `${what}: stopping…` : `${what} during start-up: stopping…`);
}

async function main(settings: StackSettings): Promise<void> {
  const nginxBinary = settings.STACK_NGINX === "off" ? undefined : findNginx();
  const busy = await firstBusyPort({
    CONNECT_PORT: settings.CONNECT_PORT,
    ORIGIN_PORT: settings.ORIGIN_PORT,
    ...Object.fromEntries(
      Array.from({ length: settings.ORIGIN_REPLICAS - 1 }, (_, i) => [
        `ORIGIN_PORT (+${i + 1}, replica ${i + 2})`,
        settings.ORIGIN_PORT + i + 1,
      ]),
    ),
    ...(settings.ORIGIN_REPLICAS > 1 ? { REDIS_PORT: settings.REDIS_PORT } : {}),
    ...(nginxBinary ? { NGINX_PORT: settings.NGINX_PORT } : {}),
    EDGE_PORT: settings.EDGE_PORT,
  });
  if (busy) throw new Error(busy);
  // A fresh id per run, echoed by every child's health answer: proof that the answer is our child's.
  const instanceId = randomBytes(16).toString("base64url");
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
      INSTANCE_ID: instanceId,
    },
  });
  running.push(connect);
  await waitForChild(`${connectUrl}/heartbeat`, connect, instanceId, {
    variable: "CONNECT_PORT",
    value: settings.CONNECT_PORT,
  });

  // Several replicas need nginx to balance them and one nonce store so a replay fails on each.
  const replicas = settings.ORIGIN_REPLICAS;
  let redisUrl: string | undefined;
  if (replicas > 1) {
    const redisBinary = findRedisServer();
    if (!nginxBinary || !redisBinary) {
      throw new Error(
        "ORIGIN_REPLICAS > 1 needs nginx and redis-server (apt-get install nginx redis-server)",
      );
    }
    const redis = startProcess("redis", redisBinary, redisArgs(settings.REDIS_PORT), {
      cwd: repoRoot,
      env: baseEnv,
    });
    running.push(redis);
    const deadline = Date.now() + 10_000;
    while (!(await pingRedis(settings.REDIS_PORT))) {
      if (Date.now() > deadline)
        throw new Error(`redis-server did not answer on port ${settings.REDIS_PORT}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    redisUrl = `redis://127.0.0.1:${settings.REDIS_PORT}`;
  }
  const originPorts = Array.from({ length: replicas }, (_, i) => settings.ORIGIN_PORT + i);
  for (const [i, port] of originPorts.entries()) {
    // node:sqlite (the audit index, the idempotency store) warns that it is experimental on every start.
    const originArgs = ["--disable-warning=ExperimentalWarning", "origin/src/main.ts"];
    const origin = startProcess(replicas > 1 ? `origin${i + 1}` : "origin", node, originArgs, {
      cwd: repoRoot,
      env: {
        ...baseEnv,
        HOST: "127.0.0.1",
        PORT: String(port),
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
        // Each replica keeps its own chain.
        AUDIT_LOG_FILE: i === 0 ? auditLog : join(settings.stateDir, "audit", `audit-${i + 1}.log`),
        // Edge and origin share this machine's clock.
        CLOCK_SKEW_MS: "0",
        INSTANCE_ID: instanceId,
        ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
      },
    });
    running.push(origin);
    await waitForChild(`http://127.0.0.1:${port}/healthz`, origin, instanceId, {
      variable: i === 0 ? "ORIGIN_PORT" : `ORIGIN_PORT (+${i}, replica ${i + 1})`,
      value: port,
    });
  }

  let upstreamForEdge = originUrl;
  let nginxUrl: string | undefined;
  let nginxNote = "";
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
        upstream: originPorts.map((port) => `127.0.0.1:${port}`),
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
    // nginx passes the origin's answer on: our instance id proves both nginx and where it forwards.
    await waitForChild(`${nginxUrl}/healthz`, nginx, instanceId, {
      variable: "NGINX_PORT",
      value: settings.NGINX_PORT,
    });
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
    `ADMIN_TOKEN=${adminToken}\nEDGE_SIGNING_KEY=${secrets.edgeSigningKey}\nORIGIN_URL=${upstreamForEdge}\n` +
      `DOCUMENT_URL_SIGNING_KEY=${secrets.documentUrlSigningKey}\n`,
    { mode: 0o600 },
  );
  const wrangler = wranglerBin(repoRoot);
  const env = wranglerEnv(baseEnv);
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
    { cwd: repoRoot, env },
  );
  running.push(migrate);
  const migrateCode = await migrate.exited;
  // Unless a shutdown has taken it off the list already.
  if (running.includes(migrate)) running.splice(running.indexOf(migrate), 1);
  if (migrateCode !== 0) throw new Error("applying the edge's D1 migrations failed (see above)");

  const edge = startProcess(
    "edge",
    wrangler,
    wranglerDevArgs(settings.EDGE_PORT, [
      "--config",
      "edge/wrangler.jsonc",
      "--persist-to",
      wranglerState,
      "--env-file",
      edgeEnvFile,
      "--var",
      `ORIGIN_URL:${upstreamForEdge}`,
      "--var",
      `INSTANCE_ID:${instanceId}`,
      ...edgeRateLimitVars(settings),
    ]),
    { cwd: repoRoot, env, rewriteLine: redactUrlCredentials },
  );
  running.push(edge);
  await waitForChild(
    `${edgeUrl}/health`,
    edge,
    instanceId,
    { variable: "EDGE_PORT", value: settings.EDGE_PORT },
    120_000,
  );

  const minted = await fetch(`${edgeUrl}/api/v1/admin/tokens`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: JSON.stringify({
      owner: settings.STACK_OWNER,
      scopes: [
        "credentials:provision",
        "credentials:rotate",
        "usage:read",
        "sessions:read",
        "sessions:write",
        "documents:read",
        "documents:write",
      ],
      services: ["chittyid"],
      label: "local stack banner",
      expiresInSeconds: 30 * 24 * 3600,
    }),
  });
  if (minted.status !== 201)
    throw new Error(`minting the banner token failed: ${minted.status} ${await minted.text()}`);
  const { token } = (await minted.json()) as { token: string };

  if (stopping) return;
  up = true;
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
      void stopAll(1, `${managed.name} exited unexpectedly (code ${code}); stopping the stack`);
    });
  }
}

process.on("SIGINT", () => onSignal("SIGINT"));
process.on("SIGTERM", () => onSignal("SIGTERM"));

let settings: StackSettings;
try {
  settings = readStackSettings(process.env, repoRoot);
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(2);
}
main(settings).catch(async (error: unknown) => {
  // A child that exits because Ctrl-C is stopping everything is not a failure to report.
  if (stopping) return;
  const message = error instanceof Error ? error.message : String(error);
  await stopAll(1, `failed: ${message}`);
});
