import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createAdaptorServer } from "@hono/node-server";
import { createConnectApp } from "./app.ts";
import { DEFAULT_FIXTURE_PATH, loadFixture } from "./fixture.ts";
import { createSyncState, type SyncState } from "./health.ts";
import { ConnectStore } from "./store.ts";

export { DEFAULT_FIXTURE_PATH } from "./fixture.ts";

export interface ConnectServerOptions {
  /** 0 picks a free port. Default 8080, Connect's own. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** The bearer token clients must send on /v1. */
  token: string;
  /** Default: dev/fixtures/vault.json. */
  fixturePath?: string;
  /** Start as if a client had already authenticated: /health reports sync ACTIVE from the start. */
  synced?: boolean;
  /** Echoed in `x-instance-id` on /heartbeat and /health (the local stack checks it is talking to its own child). */
  instanceId?: string | undefined;
}

export interface RunningConnectServer {
  /** Base URL for OP_CONNECT_HOST / the SDK's serverURL, e.g. http://127.0.0.1:8080. */
  url: string;
  port: number;
  host: string;
  /** The live data, for tests that check what a client wrote. */
  store: ConnectStore;
  sync: SyncState;
  close(): Promise<void>;
}

/** Starts the dev 1Password Connect server; resolves once it accepts connections. */
export async function startConnectServer(options: ConnectServerOptions): Promise<RunningConnectServer> {
  if (!options.token) throw new Error("the dev Connect server needs a non-empty token");
  const host = options.host ?? "127.0.0.1";
  const store = new ConnectStore(loadFixture(options.fixturePath ?? DEFAULT_FIXTURE_PATH));
  const sync = createSyncState(options.synced ?? false);
  const app = createConnectApp({ token: options.token, store, sync, instanceId: options.instanceId });
  // Plain HTTP/1.1: the adaptor returns node:http's Server for these options.
  const server = createAdaptorServer({ fetch: app.fetch, hostname: host }) as Server;

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 8080, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${urlHost(host)}:${port}`,
    port,
    host,
    store,
    sync,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Clients such as the SDK with keepAlive hold idle sockets that would delay close.
        server.closeIdleConnections();
      }),
  };
}

function urlHost(host: string): string {
  if (host === "0.0.0.0" || host === "::") return "127.0.0.1";
  return host.includes(":") ? `[${host}]` : host;
}
