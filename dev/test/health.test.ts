import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import { type RunningConnectServer, startConnectServer } from "../src/connect/server.ts";

const TOKEN = "dev-connect-health-test-token";
const started: RunningConnectServer[] = [];

async function start(options: { synced?: boolean } = {}): Promise<RunningConnectServer> {
  const server = await startConnectServer({ port: 0, token: TOKEN, ...options });
  started.push(server);
  return server;
}
afterEach(async () => {
  await Promise.all(started.splice(0).map((server) => server.close()));
});

const syncOf = async (server: RunningConnectServer) => {
  const body = (await (await fetch(`${server.url}/health`)).json()) as {
    dependencies: { service: string }[];
  };
  return body.dependencies.find((d) => d.service === "sync");
};
const vaults = (server: RunningConnectServer, token?: string) =>
  fetch(`${server.url}/v1/vaults`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

describe("sync state in /health", () => {
  it("is TOKEN_NEEDED until the first authenticated request, then ACTIVE", async () => {
    const server = await start();
    const waiting = {
      service: "sync",
      status: "TOKEN_NEEDED",
      message: "waiting for the first authenticated API request",
    };
    expect(await syncOf(server)).toEqual(waiting);
    expect(await (await fetch(`${server.url}/heartbeat`)).text()).toBe(".");

    expect((await vaults(server)).status).toBe(401);
    expect((await vaults(server, "wrong")).status).toBe(401);
    expect(await syncOf(server)).toEqual(waiting);
    expect(server.sync.synced).toBe(false);

    expect((await vaults(server, TOKEN)).status).toBe(200);
    expect(await syncOf(server)).toEqual({
      service: "sync",
      status: "ACTIVE",
      message: "vaults loaded from the fixture",
    });
    expect(server.sync.synced).toBe(true);
  });

  it("starts ACTIVE with synced: true", async () => {
    const server = await start({ synced: true });
    expect(await syncOf(server)).toMatchObject({ status: "ACTIVE" });
  });

  it("answers 200 either way", async () => {
    const server = await start();
    const response = await fetch(`${server.url}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      name: "1Password Connect API",
      version: expect.any(String),
    });
  });
});

describe("startConnectServer", () => {
  it("rejects when the port is taken", async () => {
    const first = await start();
    await expect(startConnectServer({ port: first.port, token: TOKEN })).rejects.toMatchObject({
      code: "EADDRINUSE",
    });
  });

  it("refuses an empty token", async () => {
    await expect(startConnectServer({ port: 0, token: "" })).rejects.toThrow(/non-empty token/);
  });
});

describe("the CLI (dev/src/connect/main.ts)", () => {
  const mainTs = new URL("../src/connect/main.ts", import.meta.url).pathname;
  const run = (env: Record<string, string>) =>
    spawn(process.execPath, [mainTs], {
      env: { PATH: process.env.PATH, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });

  it("logs one line with its URL, serves, and exits 0 on SIGTERM", async () => {
    const child = run({ CONNECT_PORT: "0", CONNECT_TOKEN: TOKEN });
    const exited = once(child, "exit");
    const [line] = (await once(createInterface({ input: child.stdout }), "line")) as [string];
    const url = /listening on (http:\/\/\S+)/.exec(line)?.[1];
    expect(line).toMatch(/^dev 1Password Connect listening on http:\/\/127\.0\.0\.1:\d+ \(4 vaults from /);
    expect(await (await fetch(`${url}/heartbeat`)).text()).toBe(".");
    child.kill("SIGTERM");
    expect(await exited).toEqual([0, null]);
  });

  it("exits 2 naming CONNECT_TOKEN when it is missing", async () => {
    const child = run({ CONNECT_PORT: "0" });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    expect(await once(child, "exit")).toEqual([2, null]);
    expect(stderr).toMatch(/CONNECT_TOKEN: CONNECT_TOKEN is required/);
  });
});
