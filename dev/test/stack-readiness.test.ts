import { createServer, type Server } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../../test/support/ports.ts";
import { startConnectServer } from "../src/connect/server.ts";
import { firstBusyPort, portIsFree } from "../src/stack/ports.ts";
import { startProcess, stopProcess, waitForChild, waitForOwnAnswer } from "../src/stack/processes.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Someone else's server on a free port: answers 200 to everything, as a stray dev server would. */
async function strayServer(headers: Record<string, string> = {}): Promise<number> {
  const server: Server = createServer((_req, res) => res.writeHead(200, headers).end("ok"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => new Promise((resolve) => server.close(() => resolve())));
  return (server.address() as { port: number }).port;
}

/** A child that stays alive and never listens: readiness can only come from the stray server. */
function idleChild() {
  const managed = startProcess("idle", process.execPath, ["-e", "setInterval(() => {}, 1000)"], {
    cwd: process.cwd(),
    env: { PATH: process.env.PATH },
  });
  cleanups.push(() => stopProcess(managed));
  return managed;
}

describe("the local stack's readiness check", () => {
  it("never takes another process's 200 for its child's answer", async () => {
    const port = await strayServer({ "x-instance-id": "some-other-run" });
    await expect(
      waitForOwnAnswer(`http://127.0.0.1:${port}/health`, idleChild(), "this-run", { timeoutMs: 1500 }),
    ).rejects.toThrow(/from another process/);
  });

  it("accepts the answer that echoes this run's instance id", async () => {
    const server = await startConnectServer({ port: 0, token: "t".repeat(20), instanceId: "this-run" });
    cleanups.push(() => server.close());
    await expect(
      waitForOwnAnswer(`${server.url}/heartbeat`, idleChild(), "this-run", { timeoutMs: 5000 }),
    ).resolves.toBeUndefined();
    expect((await fetch(`${server.url}/health`)).headers.get("x-instance-id")).toBe("this-run");
  });

  it("gives up as soon as the child exits", async () => {
    const port = await strayServer();
    const managed = startProcess("quitter", process.execPath, ["-e", "process.exit(3)"], {
      cwd: process.cwd(),
      env: { PATH: process.env.PATH },
    });
    await expect(waitForOwnAnswer(`http://127.0.0.1:${port}/`, managed, "this-run")).rejects.toThrow(
      "quitter exited before it became ready",
    );
  });
});

describe("a child that loses its port after the check", () => {
  it("is reported by the variable to change, not as a crash", async () => {
    const port = await strayServer();
    // Binds the port as the origin would, and dies of EADDRINUSE.
    const child = startProcess(
      "origin",
      process.execPath,
      ["-e", `require("node:net").createServer().listen(${port}, "127.0.0.1")`],
      { cwd: process.cwd(), env: { PATH: process.env.PATH } },
    );
    await expect(
      waitForChild(`http://127.0.0.1:${port}/healthz`, child, "this-run", {
        variable: "ORIGIN_PORT",
        value: port,
      }),
    ).rejects.toThrow(`ORIGIN_PORT=${port} is already in use on 127.0.0.1 by another process`);
    expect(child.child.exitCode).not.toBe(0);
  });

  it("keeps the child's own failure when its port is free", async () => {
    const port = await freePort();
    const child = startProcess("origin", process.execPath, ["-e", "process.exit(1)"], {
      cwd: process.cwd(),
      env: { PATH: process.env.PATH },
    });
    await expect(
      waitForChild(`http://127.0.0.1:${port}/healthz`, child, "this-run", {
        variable: "ORIGIN_PORT",
        value: port,
      }),
    ).rejects.toThrow("origin exited before it became ready");
  });
});

describe("the local stack's port check", () => {
  it("names the variable whose port is taken", async () => {
    const taken = await strayServer();
    expect(await portIsFree(taken)).toBe(false);
    const message = await firstBusyPort({ CONNECT_PORT: 0, EDGE_PORT: taken });
    expect(message).toBe(
      `EDGE_PORT=${taken} is already in use on 127.0.0.1 by another process: stop it, or start with EDGE_PORT=<a free port>`,
    );
  });

  it("refuses two variables set to the same port", async () => {
    expect(await firstBusyPort({ ORIGIN_PORT: 1, NGINX_PORT: 1 })).toContain(
      "NGINX_PORT=1 is the same port as ORIGIN_PORT",
    );
  });
});
