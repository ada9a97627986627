import { spawn } from "node:child_process";
import { constants } from "node:os";
import { maskingStream } from "./mask.ts";

/** Variables the child never inherits: its secrets are the ones it asked for, not the means to get more. */
export const WITHHELD = ["CHITTYCONNECT_TOKEN", "CHITTYCONNECT_ADMIN_TOKEN"];

/**
 * Runs `command` with `env`, its stdout and stderr masked for `values`; resolves with the exit code the
 * shell would report (128 + n for a signal, 127 when the command cannot be started). SIGINT, SIGTERM and
 * SIGHUP sent to the CLI are passed on to the child.
 */
export function runMasked(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  values: Iterable<string>,
): Promise<number> {
  const secrets = [...values];
  return new Promise((resolve) => {
    const child = spawn(command, args, { env, stdio: ["inherit", "pipe", "pipe"] });
    const forward = (signal: NodeJS.Signals) => () => {
      child.kill(signal);
    };
    const handlers = (["SIGINT", "SIGTERM", "SIGHUP"] as const).map((signal) => {
      const handler = forward(signal);
      process.on(signal, handler);
      return [signal, handler] as const;
    });
    const finished = [child.stdout, child.stderr].map((source, i) => {
      const target = i === 0 ? process.stdout : process.stderr;
      return new Promise<void>((done) => {
        const masked = source.pipe(maskingStream(secrets));
        masked.on("data", (chunk: Buffer) => target.write(chunk));
        masked.on("end", () => done());
      });
    });
    const cleanUp = () => {
      for (const [name, handler] of handlers) process.off(name, handler);
    };
    child.on("error", (error: NodeJS.ErrnoException) => {
      cleanUp();
      process.stderr.write(`chittyconnect: cannot run ${command} (${error.code ?? "error"})\n`);
      resolve(127);
    });
    child.on("close", async (code, signal) => {
      await Promise.all(finished);
      cleanUp();
      resolve(signal ? 128 + (constants.signals[signal] ?? 0) : (code ?? 1));
    });
  });
}
