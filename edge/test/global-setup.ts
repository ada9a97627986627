import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import type { TestProject } from "vitest/node";
import { createFakeOrigin } from "./fake-origin.ts";
import { REAL_CONNECT_TOKEN, startRealOrigin } from "./real-origin.ts";

declare module "vitest" {
  export interface ProvidedContext {
    fakeOriginUrl: string;
    closedPortUrl: string;
    realOriginUrl: string;
    realConnectItemUrl: string;
    realConnectToken: string;
  }
}

function listen(fetch: (request: Request) => Promise<Response>) {
  return new Promise<ReturnType<typeof serve>>((resolve) => {
    const server = serve({ fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(server));
  });
}

function close(server: ReturnType<typeof serve>): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * A real origin stand-in over HTTP, a port that was just freed so connecting to it is refused, and
 * the real origin before a slow dev Connect server.
 */
export default async function setup(project: TestProject) {
  const origin = await listen(createFakeOrigin());
  const real = await startRealOrigin();
  const spare = await listen(async () => new Response(null, { status: 500 }));
  const sparePort = (spare.address() as AddressInfo).port;
  await close(spare);
  project.provide("fakeOriginUrl", `http://127.0.0.1:${(origin.address() as AddressInfo).port}`);
  project.provide("closedPortUrl", `http://127.0.0.1:${sparePort}`);
  project.provide("realOriginUrl", real.originUrl);
  project.provide("realConnectItemUrl", real.itemUrl);
  project.provide("realConnectToken", REAL_CONNECT_TOKEN);
  return async () => {
    await close(origin);
    await real.close();
  };
}
