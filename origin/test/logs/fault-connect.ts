import { createServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { forward } from "../credentials/connect-harness.ts";

/** What the proxy does with one request on its way to Connect. */
export type Fault = "pass" | "hang" | "reset" | "error500";

export interface FaultyConnect {
  url: string;
  /** Decides per request; change it between phases of a test. */
  fault: (method: string, path: string) => Fault;
  close(): Promise<void>;
}

/**
 * A proxy in front of the dev Connect server that can freeze (accept, never answer), cut the
 * connection, or answer 500 the way Connect does, for all requests or only some (e.g. the PUT of
 * a rotation, after the item was read).
 */
export async function startFaultyConnect(target: string): Promise<FaultyConnect> {
  const upstream = new URL(target);
  const sockets = new Set<Socket>();
  const proxy: FaultyConnect = { url: "", fault: () => "pass", close: async () => {} };
  const server: Server = createServer((incoming, outgoing) => {
    const fault = proxy.fault(incoming.method ?? "GET", incoming.url ?? "/");
    if (fault === "hang") return;
    if (fault === "reset") {
      incoming.socket.destroy();
      return;
    }
    if (fault === "error500") {
      incoming.resume();
      outgoing.writeHead(500, { "content-type": "application/json" });
      outgoing.end(JSON.stringify({ status: 500, message: "Internal server error" }));
      return;
    }
    forward(upstream, incoming, outgoing);
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
  return proxy;
}
