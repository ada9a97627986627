import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { busyPortMessage, portIsFree } from "./ports.ts";

const COLORS = [36, 35, 33, 32, 34];

export interface ManagedProcess {
  name: string;
  child: ChildProcess;
  exited: Promise<number | null>;
}

/**
 * Runs a child with its output prefixed by its name, so four processes can share one terminal.
 * Children get their own process group: Ctrl-C reaches the runner, which stops them in order.
 */
export function startProcess(
  name: string,
  command: string,
  args: string[],
  options: { cwd: string; env: Record<string, string | undefined>; rewriteLine?: (line: string) => string },
): ManagedProcess {
  const rewrite = options.rewriteLine ?? ((line: string) => line);
  const color = COLORS[name.length % COLORS.length];
  const tag = process.stdout.isTTY ? `\x1b[${color}m${name.padEnd(7)}\x1b[0m│` : `${name.padEnd(7)}│`;
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on("line", (line) => {
      process.stdout.write(`${tag} ${rewrite(line)}\n`);
    });
  }
  const exited = new Promise<number | null>((resolve) => {
    child.on("exit", (code) => resolve(code));
    child.on("error", (error) => {
      process.stdout.write(`${tag} failed to start: ${error.message}\n`);
      resolve(-1);
    });
  });
  return { name, child, exited };
}

/** SIGTERM the whole group, then SIGKILL whatever is still alive after the grace period. */
export async function stopProcess(managed: ManagedProcess, graceMs = 5000): Promise<void> {
  const { child } = managed;
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-(child.pid as number), signal);
    } catch {
      // The group is already gone.
    }
  };
  signalGroup("SIGTERM");
  const timer = setTimeout(() => signalGroup("SIGKILL"), graceMs);
  await managed.exited;
  clearTimeout(timer);
}

/** The header each child echoes on its health answer; see `waitForOwnAnswer`. */
export const INSTANCE_HEADER = "x-instance-id";

/**
 * Polls a health URL until it answers 200 carrying this run's instance id, the process dies, or
 * time runs out. Any other answer comes from someone else on the port and never counts as ready.
 */
export async function waitForOwnAnswer(
  url: string,
  managed: ManagedProcess,
  instanceId: string,
  options: { timeoutMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  let exited = false;
  void managed.exited.then(() => {
    exited = true;
  });
  let lastError = "no answer yet";
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${managed.name} exited before it became ready (see its lines above)`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await response.body?.cancel();
      const echoed = response.headers.get(INSTANCE_HEADER);
      if (response.status === 200 && echoed === instanceId) return;
      lastError =
        echoed === instanceId
          ? `status ${response.status}`
          : `status ${response.status} from another process (no ${INSTANCE_HEADER} of this run)`;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${managed.name} did not become ready at ${url} (${lastError})`);
}

/**
 * Waits until the child at `url` answers with this run's instance id. When it cannot (it died, e.g.
 * of EADDRINUSE, or never answered) and its port is held by someone else, the error names the
 * variable to change instead of the child's symptom. The child is stopped before the port is probed.
 */
export async function waitForChild(
  url: string,
  managed: ManagedProcess,
  instanceId: string,
  port: { variable: string; value: number },
  timeoutMs?: number,
): Promise<void> {
  try {
    await waitForOwnAnswer(url, managed, instanceId, timeoutMs === undefined ? {} : { timeoutMs });
  } catch (error) {
    await stopProcess(managed);
    if (!(await portIsFree(port.value))) throw new Error(busyPortMessage(port.variable, port.value));
    throw error;
  }
}
