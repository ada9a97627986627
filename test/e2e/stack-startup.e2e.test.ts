import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { constants, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../support/ports.ts";
import { repoRoot } from "../support/stack.ts";

const PORT_VARIABLES = ["CONNECT_PORT", "ORIGIN_PORT", "NGINX_PORT", "EDGE_PORT"] as const;
type PortVariable = (typeof PORT_VARIABLES)[number];

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Another program on the port that answers 200 to anything, like a forgotten dev server. */
async function occupy(port: number): Promise<void> {
  const server: Server = createServer((_req, res) =>
    res.writeHead(200, { "content-type": "application/json" }).end('{"status":"healthy"}'),
  );
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
}

async function stackPorts(): Promise<Record<PortVariable, number>> {
  const ports = await Promise.all(PORT_VARIABLES.map(() => freePort()));
  return Object.fromEntries(PORT_VARIABLES.map((name, i) => [name, ports[i]])) as Record<
    PortVariable,
    number
  >;
}

/**
 * `npm run start`, which `./run start` execs once dependencies are installed (calling ./run itself
 * could start an `npm ci` inside a test), in its own process group so a test can press Ctrl-C on it.
 */
function runStart(ports: Record<PortVariable, number>): { child: ChildProcess; output: () => string } {
  const stateDir = mkdtempSync(join(tmpdir(), "chitty-startup-"));
  cleanups.push(() => rmSync(stateDir, { recursive: true, force: true }));
  const child = spawn("npm", ["run", "--silent", "start"], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, String(port)])),
      STACK_STATE_DIR: stateDir,
    },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  // The runner starts its children in process groups of their own (so Ctrl-C reaches it alone), so
  // killing its group would orphan them (an nginx was once found still running an hour later after a
  // failed assertion): it gets Ctrl-C first and time to stop them, and SIGKILL only after that.
  cleanups.push(async () => {
    const signal = (name: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, name);
      } catch {
        // The group has already gone.
      }
    };
    if (child.exitCode !== null || child.signalCode !== null) return;
    signal("SIGINT");
    const closed = once(child, "close").then(() => true);
    const timedOut = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 20_000).unref());
    if (!(await Promise.race([closed, timedOut]))) signal("SIGKILL");
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  return { child, output: () => output };
}

/**
 * The exit status a shell shows (`$?`: 128 + n for death by signal n) once every stdio stream has
 * closed, i.e. the runner and everything it started are gone.
 */
async function finished(child: ChildProcess): Promise<number> {
  const [code, signal] = (await once(child, "close")) as [number | null, NodeJS.Signals | null];
  return code ?? 128 + (signal ? constants.signals[signal] : 0);
}

describe("npm start with a port already taken", () => {
  it.each(PORT_VARIABLES)("stops before starting anything and names %s", async (variable) => {
    const ports = await stackPorts();
    await occupy(ports[variable]);
    const { child, output } = runStart(ports);
    const code = await finished(child);
    expect(code).toBe(1);
    expect(output()).toContain(
      `${variable}=${ports[variable]} is already in use on 127.0.0.1 by another process: stop it, or start with ${variable}=<a free port>`,
    );
    expect(output()).not.toContain("ChittyConnect is up");
    // Nothing was started: every other port is still free.
    for (const other of PORT_VARIABLES.filter((name) => name !== variable)) {
      await expect(fetch(`http://127.0.0.1:${ports[other]}/`)).rejects.toThrow();
    }
  });
});

describe("Ctrl-C on npm start", () => {
  it("during start-up says it was stopped, stops every child and exits 130", async () => {
    const ports = await stackPorts();
    const { child, output } = runStart(ports);
    const deadline = Date.now() + 60_000;
    while (!output().includes("origin listening") && Date.now() < deadline && child.exitCode === null) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(output()).toContain("origin listening");
    process.kill(-(child.pid as number), "SIGINT");
    expect(await finished(child)).toBe(130);
    expect(output()).toContain("Ctrl-C during start-up: stopping…");
    expect(output()).toContain("nothing is left running");
    expect(output()).not.toContain("exited before it became ready");
    expect(output()).not.toContain("failed:");
    for (const port of Object.values(ports)) {
      await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
    }
  });
});
