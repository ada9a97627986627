import { parseOriginConfig } from "./config.ts";
import { createLogger, errorFields } from "./logger.ts";
import { startOrigin } from "./server.ts";

/** Start-up failures are operator mistakes: print the message alone, no stack trace. */
function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

const parsed = parseOriginConfig(process.env);
if (!parsed.ok) fail(parsed.message);
const config = parsed.config;
const logger = createLogger({ level: config.LOG_LEVEL });

let origin: Awaited<ReturnType<typeof startOrigin>>;
try {
  origin = await startOrigin({ config, logger });
} catch (error) {
  // Start-up errors are ours (a bad policy file, a taken port): their message names the problem.
  fail(`origin failed to start: ${error instanceof Error ? error.message : String(error)}`);
}
logger.info({ url: origin.url }, "origin listening");

let stopping = false;
const stop = (signal: string) => {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, "shutting down");
  origin.close().then(
    () => process.exit(0),
    (error: unknown) => {
      logger.error(errorFields(error), "shutdown failed");
      process.exit(1);
    },
  );
};
process.on("SIGTERM", () => stop("SIGTERM"));
process.on("SIGINT", () => stop("SIGINT"));
