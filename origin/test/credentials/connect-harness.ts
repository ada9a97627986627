import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import pino from "pino";
import { type OriginConfig, parseOriginConfig } from "../../src/config.ts";

export const CONNECT_TOKEN = "dev-connect-token-for-credential-tests";
export const OWNER = "01-C-TEST-0001-P-2501-A-X";

export const silentLogger = () => pino({ level: "silent" });

export function credentialConfig(env: Record<string, string>): OriginConfig {
  const parsed = parseOriginConfig({
    OP_CONNECT_TOKEN: CONNECT_TOKEN,
    EDGE_SIGNING_KEY: "edge-signing-secret-for-tests-0123456789",
    AUDIT_HMAC_KEY: "audit-hmac-key-for-tests-0123456789abcdef",
    AUDIT_CHAIN_KEY: "audit-chain-key-for-tests-0123456789abcdef",
    CONNECT_TIMEOUT_MS: "1000",
    ...env,
  });
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.config;
}

export interface LocalServer {
  url: string;
  /** Method and URL (path + query) of every request seen, in order. */
  requests: string[];
  close(): Promise<void>;
}

/** Listens on 127.0.0.1:0; closing also drops open sockets so hung clients do not keep it alive. */
async function listen(server: Server, requests: string[]): Promise<LocalServer> {
  const sockets = new Set<Socket>();
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * Passes one request on to `upstream` and its answer back, as a plain HTTP proxy; `delayMs` holds
 * the answer back after upstream has acted on the request.
 */
export function forward(
  upstream: URL,
  incoming: IncomingMessage,
  outgoing: ServerResponse,
  delayMs = 0,
): void {
  const forwarded = request(
    {
      host: upstream.hostname,
      port: upstream.port,
      method: incoming.method,
      path: incoming.url,
      headers: incoming.headers,
    },
    (response) => {
      setTimeout(() => {
        outgoing.writeHead(response.statusCode ?? 502, response.headers);
        response.pipe(outgoing);
      }, delayMs);
    },
  );
  forwarded.on("error", () => outgoing.destroy());
  incoming.pipe(forwarded);
}

/**
 * Forwards everything to `target` and records each request, to count calls reaching Connect.
 * `delayMs` holds back the answer to matching requests after Connect has acted on them: a slow
 * Connect whose write still happens.
 */
export function startCountingProxy(
  target: string,
  delayMs: (method: string, url: string) => number = () => 0,
): Promise<LocalServer> {
  const requests: string[] = [];
  const upstream = new URL(target);
  const server = createServer((incoming, outgoing) => {
    requests.push(`${incoming.method} ${incoming.url}`);
    forward(upstream, incoming, outgoing, delayMs(incoming.method ?? "GET", incoming.url ?? "/"));
  });
  return listen(server, requests);
}

/** Accepts connections and requests but never answers: Connect hanging. */
export function startSilentServer(): Promise<LocalServer> {
  const requests: string[] = [];
  const server = createServer((incoming) => {
    requests.push(`${incoming.method} ${incoming.url}`);
  });
  return listen(server, requests);
}

/** A URL on 127.0.0.1 where nothing listens (a port we bound and released). */
export async function closedPortUrl(): Promise<string> {
  const server = await listen(createServer(), []);
  await server.close();
  return server.url;
}
