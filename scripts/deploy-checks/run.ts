import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { renderComposeNginxConfig } from "../../nginx/compose-config.ts";
import { checkCompose, parseComposeText } from "./compose.ts";
import { checkDockerfile } from "./dockerfile.ts";
import { parseDotenv } from "./dotenv.ts";
import { checkWranglerText } from "./edge.ts";
import { checkEnv } from "./env.ts";
import { checkPolicyFile } from "./policy.ts";
import { type SectionResult, section } from "./report.ts";

export interface DeployCheckOptions {
  /** The repository root (docker-compose.yml, origin/Dockerfile, nginx/, edge/). */
  root: string;
  /** The `.env` compose will read; relative paths in it resolve against its directory. */
  envFile: string;
}

/** Every section of `npm run check:deploy`, in report order. */
export function runDeployChecks(options: DeployCheckOptions): SectionResult[] {
  const envFile = isAbsolute(options.envFile) ? options.envFile : resolve(options.root, options.envFile);
  const baseDir = dirname(envFile);
  let env: Record<string, string> = {};
  let envSection: SectionResult;
  try {
    env = parseDotenv(readFileSync(envFile, "utf8"));
    envSection = checkEnv(env, { baseDir });
  } catch (error) {
    envSection = section("env");
    envSection.errors.push(`${options.envFile}: ${(error as Error).message}`);
  }
  const policyPath = env.POLICY_PATH?.trim() || "./policy.yaml";
  return [
    envSection,
    checkPolicyFile(isAbsolute(policyPath) ? policyPath : resolve(baseDir, policyPath)),
    fromFile(resolve(options.root, "docker-compose.yml"), "compose", (text) =>
      checkCompose(parseComposeText(text)),
    ),
    fromFile(resolve(options.root, "origin/Dockerfile"), "dockerfile", (text) =>
      checkDockerfile(text, "dockerfile"),
    ),
    fromFile(resolve(options.root, "nginx/nginx.conf"), "nginx", checkRenderedNginx),
    fromFile(resolve(options.root, "edge/wrangler.jsonc"), "edge", checkWranglerText),
  ];
}

function fromFile(file: string, name: string, check: (text: string) => SectionResult): SectionResult {
  try {
    return check(readFileSync(file, "utf8"));
  } catch (error) {
    const result = section(name);
    result.errors.push(`${file}: ${(error as Error).message}`);
    return result;
  }
}

/** The committed nginx/nginx.conf must be what render.ts produces today. */
function checkRenderedNginx(text: string): SectionResult {
  const result = section("nginx");
  if (text !== renderComposeNginxConfig()) {
    result.errors.push("nginx/nginx.conf is out of date: run `node nginx/write-compose-config.ts`");
  }
  return result;
}
