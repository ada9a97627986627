import { type AddressInfo, BlockList, type Socket } from "node:net";
import { createAdaptorServer } from "@hono/node-server";
import { createOriginApp, type OriginApp } from "./app.ts";
import { type OriginConfig, parsePeer } from "./config.ts";
import type { CredentialService } from "./credentials/service.ts";
import { createLogger, type Logger } from "./logger.ts";
import { createMetrics, type OriginMetrics } from "./metrics.ts";
import { RedisNonceStore } from "./replay/redis-store.ts";

/** Slow-client limits: the tunnel keeps connections alive, attackers should not hold them. */
export const SERVER_TIMEOUTS = {
  headersTimeout: 10_000,
  requestTimeout: 30_000,
  keepAliveTimeout: 5_000,
} as const;

/** How long close() waits for in-flight requests before cutting their connections. */
export const DRAIN_TIMEOUT_MS = 10_000;

export interface StartOriginOptions {
  config: OriginConfig;
  logger?: Logger;
  /** Injected by tests and the local stack; otherwise built from the config. */
  credentials?: CredentialService;
  drainTimeoutMs?: number;
}

export interface RunningOrigin {
  url: string;
  port: number;
  app: OriginApp;
  metrics: OriginMetrics;
  close(): Promise<void>;
}

/** Loaded lazily so callers that inject a service never load the 1Password SDK. */
async function defaultCredentials(
  config: OriginConfig,
  logger: Logger,
  metrics: OriginMetrics,
): Promise<CredentialService> {
  const { createCredentialService } = await import("./credentials/service.ts");
  return createCredentialService(config, { logger, metrics });
}

export async function startOrigin(options: StartOriginOptions): Promise<RunningOrigin> {
  const { config } = options;
  const logger = options.logger ?? createLogger({ level: config.LOG_LEVEL });
  const metrics = createMetrics();
  const credentials = options.credentials ?? (await defaultCredentials(config, logger, metrics));
  let nonces: RedisNonceStore | undefined;
  try {
    nonces = config.REDIS_URL ? await RedisNonceStore.connect({ url: config.REDIS_URL, logger }) : undefined;
  } catch (error) {
    await credentials.close();
    throw error;
  }
  const app = await createOriginApp({ config, logger, metrics, credentials, ...(nonces ? { nonces } : {}) });
  // Connect only starts syncing after its first authenticated request, so poke it at boot
  // rather than on the first client call; warmUp never throws.
  void credentials.warmUp();

  const server = createAdaptorServer({ fetch: app.fetch, serverOptions: { ...SERVER_TIMEOUTS } });
  const admits = peerFilter(config.ALLOWED_PEERS);
  if (admits) {
    // Before the HTTP parser sees a byte: a refused peer gets a reset, never an answer.
    server.prependListener("connection", (socket: Socket) => {
      if (!admits(socket.remoteAddress)) {
        logger.warn({ peer: socket.remoteAddress }, "connection refused: peer not in ALLOWED_PEERS");
        socket.destroy();
      }
    });
  }
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(config.PORT, config.HOST, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (error) {
    nonces?.close();
    await credentials.close();
    throw error;
  }
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  const drainTimeoutMs = options.drainTimeoutMs ?? DRAIN_TIMEOUT_MS;

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      await new Promise<void>((resolve) => {
        const deadline = setTimeout(() => {
          logger.warn("drain timeout reached; closing remaining connections");
          if ("closeAllConnections" in server) server.closeAllConnections();
        }, drainTimeoutMs);
        deadline.unref();
        // Keep-alive sockets turn idle once their response is sent; reap them as they do so
        // instead of waiting for keepAliveTimeout.
        const reaper = setInterval(() => {
          if ("closeIdleConnections" in server) server.closeIdleConnections();
        }, 50);
        server.close(() => {
          clearTimeout(deadline);
          clearInterval(reaper);
          resolve();
        });
      });
      nonces?.close();
      await credentials.close();
    })();
    return closing;
  };
  return { url, port: address.port, app, metrics, close };
}

/** A predicate over peer addresses, or undefined when every peer is allowed. */
export function peerFilter(
  peers: readonly string[] | undefined,
): ((address?: string) => boolean) | undefined {
  if (peers === undefined) return undefined;
  const allowed = new BlockList();
  for (const entry of peers) {
    const range = parsePeer(entry);
    if (range) allowed.addSubnet(range.address, range.prefix, range.family);
  }
  return (address) => {
    if (address === undefined) return false;
    // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d.
    const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
    return v4 ? allowed.check(v4, "ipv4") : allowed.check(address, address.includes(":") ? "ipv6" : "ipv4");
  };
}
