import { type ChildProcess, spawn } from "node:child_process";
import { findRedisServer, pingRedis, redisArgs } from "../../dev/src/stack/redis.ts";
import { freePort } from "./ports.ts";

export { findRedisServer };

export interface RunningRedis {
  url: string;
  port: number;
  /** SIGSTOP / SIGCONT: a server that holds connections open and answers nothing. */
  freeze(): void;
  thaw(): void;
  stop(): Promise<void>;
}

/** A throw-away redis-server on a free loopback port, nothing written to disk. */
export async function startRedis(binary: string): Promise<RunningRedis> {
  const port = await freePort();
  const child: ChildProcess = spawn(binary, redisArgs(port), { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const deadline = Date.now() + 10_000;
  while (!(await pingRedis(port))) {
    if (child.exitCode !== null) throw new Error(`redis-server exited: ${stderr}`);
    if (Date.now() > deadline) throw new Error(`redis-server did not start: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const signal = (name: NodeJS.Signals) => {
    if (child.exitCode === null) child.kill(name);
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    freeze: () => signal("SIGSTOP"),
    thaw: () => signal("SIGCONT"),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGCONT");
        child.kill("SIGTERM");
      }),
  };
}
