import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { type NginxRenderOptions, renderNginxConfig } from "../../nginx/render.ts";
import { freePort } from "../support/ports.ts";

const NGINX_CANDIDATES = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"];

export function findNginx(): string | undefined {
  return NGINX_CANDIDATES.find((candidate) => existsSync(candidate));
}

export interface RunningNginx {
  url: string;
  accessLog: string;
  close(): Promise<void>;
}

/** nginx as a plain unprivileged process with the project's config, the way the stack runner starts it. */
export async function startNginx(
  binary: string,
  dir: string,
  options: Pick<NginxRenderOptions, "upstream" | "trustedProxies" | "metrics">,
): Promise<RunningNginx> {
  const prefix = join(dir, "nginx");
  mkdirSync(prefix, { recursive: true });
  // Started as root (CI), nginx's workers run as nobody and must reach the cache in the prefix.
  for (const path of [dir, prefix]) chmodSync(path, 0o755);
  const listenPort = await freePort();
  const accessLog = join(prefix, "access.log");
  const config = join(prefix, "nginx.conf");
  writeFileSync(
    config,
    renderNginxConfig({
      ...options,
      listenPort,
      prefix,
      accessLog,
      errorLog: join(prefix, "error.log"),
      pidFile: join(prefix, "nginx.pid"),
    }),
  );
  const args = ["-p", prefix, "-e", "stderr", "-c", config];
  execFileSync(binary, [...args, "-t", "-q"], { stdio: "pipe" });
  const child: ChildProcess = spawn(binary, [...args, "-g", "daemon off;"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const url = `http://127.0.0.1:${listenPort}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
    const up = await fetch(`${url}/nginx-healthz`).then(
      (response) => response.ok,
      () => false,
    );
    if (up) break;
    if (Date.now() > deadline) throw new Error(`nginx did not start: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url,
    accessLog,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGQUIT");
      }),
  };
}

export interface CountingProxy {
  address: string;
  /** Requests that reached the origin, by path without query. */
  count(path: string): number;
  close(): Promise<void>;
}

/** Sits between nginx and the origin and counts what actually got through. */
export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const counts = new Map<string, number>();
  const targetUrl = new URL(target);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    counts.set(path, (counts.get(path) ?? 0) + 1);
    const upstream = httpRequest(
      {
        host: targetUrl.hostname,
        port: targetUrl.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (response) => {
        res.writeHead(response.statusCode ?? 502, response.headers);
        response.pipe(res);
      },
    );
    upstream.on("error", () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    count: (path) => counts.get(path) ?? 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
