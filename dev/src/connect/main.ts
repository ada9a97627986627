import { relative } from "node:path";
import { z } from "zod";
import { DEFAULT_FIXTURE_PATH, startConnectServer } from "./server.ts";

/** `node dev/src/connect/main.ts`: the dev 1Password Connect server on its own. */
const EnvSchema = z.object({
  CONNECT_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  CONNECT_HOST: z.string().min(1).default("127.0.0.1"),
  CONNECT_TOKEN: z.string({ error: "CONNECT_TOKEN is required" }).min(1, "CONNECT_TOKEN is required"),
  CONNECT_FIXTURE: z.string().min(1).optional(),
  INSTANCE_ID: z.string().min(1).max(200).optional(),
});

const env = EnvSchema.safeParse(process.env);
if (!env.success) {
  const lines = env.error.issues.map((issue) => `  - ${issue.path.join(".")}: ${issue.message}`);
  process.stderr.write(`Invalid dev Connect settings:\n${lines.join("\n")}\n`);
  process.exit(2);
}

const fixturePath = env.data.CONNECT_FIXTURE ?? DEFAULT_FIXTURE_PATH;
try {
  const server = await startConnectServer({
    port: env.data.CONNECT_PORT,
    host: env.data.CONNECT_HOST,
    token: env.data.CONNECT_TOKEN,
    fixturePath,
    instanceId: env.data.INSTANCE_ID,
  });
  const vaults = server.store.listVaults().length;
  process.stdout.write(
    `dev 1Password Connect listening on ${server.url} (${vaults} vaults from ${relative(process.cwd(), fixturePath)})\n`,
  );
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`stopping on ${signal} failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
} catch (error) {
  process.stderr.write(`dev Connect server failed to start: ${(error as Error).message}\n`);
  process.exit(1);
}
