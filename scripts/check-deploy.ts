import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { formatReport, isValid } from "./deploy-checks/report.ts";
import { runDeployChecks } from "./deploy-checks/run.ts";

/**
 * `node scripts/check-deploy.ts [--env .env]`: validates `.env`, the secret files, the policy
 * file, the compose files (COMPOSE_FILE), a locally-managed tunnel's config, the origin
 * Dockerfile, the nginx config and the edge's wrangler config together, prints a report and exits
 * 1 when any section is invalid (warnings alone do not fail it).
 * The flag is not `--env-file`: Node claims that one anywhere on its command line and would load
 * (or refuse) the file itself before this script runs.
 */
let envFile: string;
try {
  const { values } = parseArgs({ options: { env: { type: "string", default: ".env" } }, strict: true });
  envFile = values.env;
} catch (error) {
  process.stderr.write(`${(error as Error).message}\nusage: node scripts/check-deploy.ts [--env .env]\n`);
  process.exit(2);
}
const sections = runDeployChecks({
  root: resolve(import.meta.dirname, ".."),
  envFile: resolve(process.cwd(), envFile),
});
process.stdout.write(formatReport(sections));
process.exit(sections.every(isValid) ? 0 : 1);
