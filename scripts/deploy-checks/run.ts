import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { renderComposeNginxConfig } from "../../nginx/compose-config.ts";
import { checkCloudflaredConfig } from "./cloudflared.ts";
import { checkCompose } from "./compose.ts";
import {
  composeFileList,
  DEFAULT_COMPOSE_FILE,
  mergeCompose,
  parseComposeText,
  referencedVariables,
} from "./compose-files.ts";
import { checkDockerfile } from "./dockerfile.ts";
import { parseDotenv } from "./dotenv.ts";
import { checkWranglerText } from "./edge.ts";
import { checkEnv } from "./env.ts";
import { checkPolicyFile } from "./policy.ts";
import { type SectionResult, section } from "./report.ts";
import { checkSecretFiles } from "./secrets.ts";

export interface DeployCheckOptions {
  /** The repository root (docker-compose.yml, origin/Dockerfile, nginx/, edge/). */
  root: string;
  /** The `.env` compose will read; relative paths in it resolve against its directory. */
  envFile: string;
}

/** Every section of `./run check:deploy`, in report order. */
export function runDeployChecks(options: DeployCheckOptions): SectionResult[] {
  const envFile = isAbsolute(options.envFile) ? options.envFile : resolve(options.root, options.envFile);
  const baseDir = dirname(envFile);
  let env: Record<string, string> = {};
  let envProblem: string | undefined;
  try {
    env = parseDotenv(readFileSync(envFile, "utf8"));
  } catch (error) {
    envProblem = `${options.envFile}: ${(error as Error).message}`;
  }

  // The files compose merges: COMPOSE_FILE from .env, else the repository's. Relative paths, in
  // COMPOSE_FILE and inside the files, resolve against the .env's directory: compose reads .env
  // from its project directory, so the two are one in a deployment.
  const composeFiles = env.COMPOSE_FILE
    ? composeFileList(env).map((file) => (isAbsolute(file) ? file : resolve(baseDir, file)))
    : [resolve(options.root, DEFAULT_COMPOSE_FILE)];
  let compose: unknown;
  const composeSection = section("compose");
  const composeVariables = new Set<string>();
  try {
    const texts = composeFiles.map((file) => readFileSync(file, "utf8"));
    for (const text of texts) for (const name of referencedVariables(text)) composeVariables.add(name);
    compose = texts.map(parseComposeText).reduce((merged, next) => mergeCompose(merged, next));
  } catch (error) {
    composeSection.errors.push(`${composeFiles.join(", ")}: ${(error as Error).message}`);
  }

  const envSection = section("env");
  if (envProblem) envSection.errors.push(envProblem);
  else if (compose !== undefined)
    Object.assign(envSection, checkEnv(env, { baseDir, compose, composeVariables }));
  const policyPath = env.POLICY_PATH?.trim() || "./policy.yaml";
  const sections = [
    envSection,
    checkPolicyFile(isAbsolute(policyPath) ? policyPath : resolve(baseDir, policyPath)),
    compose === undefined ? composeSection : checkCompose(compose),
    compose === undefined ? section("secrets") : checkSecretFiles(compose, env, baseDir),
    checkCloudflaredConfig(compose, env, baseDir),
    fromFile(resolve(options.root, "origin/Dockerfile"), "dockerfile", (text) =>
      checkDockerfile(text, "dockerfile"),
    ),
    fromFile(resolve(options.root, "nginx/nginx.conf"), "nginx", checkRenderedNginx),
    fromFile(resolve(options.root, "edge/wrangler.jsonc"), "edge", checkWranglerText),
  ];
  return sections.filter((result): result is SectionResult => result !== undefined);
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
