import { createServer } from "node:net";

/** True when nothing listens on host:port, found by binding it for a moment (what the child will do). */
export function portIsFree(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve(true)));
  });
}

/** The one line a user sees when a port is taken: which variable to change, and to what kind of value. */
export function busyPortMessage(variable: string, port: number): string {
  return `${variable}=${port} is already in use on 127.0.0.1 by another process: stop it, or start with ${variable}=<a free port>`;
}

/** Names the first variable whose port is taken or shared with an earlier variable; undefined when all are free. */
export async function firstBusyPort(ports: Record<string, number>): Promise<string | undefined> {
  const seen = new Map<number, string>();
  for (const [variable, port] of Object.entries(ports)) {
    const earlier = seen.get(port);
    if (earlier) return `${variable}=${port} is the same port as ${earlier}: give each a different port`;
    seen.set(port, variable);
    if (!(await portIsFree(port))) return busyPortMessage(variable, port);
  }
  return undefined;
}
