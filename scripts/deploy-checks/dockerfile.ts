import { isPinnedImage } from "./compose.ts";
import { type SectionResult, section } from "./report.ts";

/** One Dockerfile instruction with its continuation lines joined. */
export interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

export interface Stage {
  base: string;
  name: string | undefined;
  instructions: Instruction[];
}

const MAX_DOCKERFILE_BYTES = 131_072;

/** Enough of the Dockerfile grammar to lint ours: comments, `\` continuations, stages. */
export function parseDockerfile(text: string): Stage[] {
  if (Buffer.byteLength(text) > MAX_DOCKERFILE_BYTES)
    throw new Error(`larger than ${MAX_DOCKERFILE_BYTES} bytes`);
  const instructions: Instruction[] = [];
  let pending: { parts: string[]; line: number } | undefined;
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const trimmed = raw.trim();
    if (trimmed.startsWith("#") || (trimmed === "" && pending === undefined)) continue;
    const continues = trimmed.endsWith("\\");
    const part = continues ? trimmed.slice(0, -1).trim() : trimmed;
    pending ??= { parts: [], line: index + 1 };
    if (part !== "") pending.parts.push(part);
    if (continues) continue;
    const joined = pending.parts.join(" ");
    const match = /^(\S+)\s*(.*)$/.exec(joined);
    if (match?.[1])
      instructions.push({ keyword: match[1].toUpperCase(), args: match[2] ?? "", line: pending.line });
    pending = undefined;
  }
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === "FROM") {
      const [base = "", as, name] = instruction.args.replace(/--platform=\S+\s+/, "").split(/\s+/);
      stages.push({ base, name: as?.toUpperCase() === "AS" ? name : undefined, instructions: [] });
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  return stages;
}

/** Runs the checks hadolint would, plus this project's: pinned, multi-stage, non-root, healthy. */
export function checkDockerfile(text: string, name: string): SectionResult {
  const result = section(name);
  const err = (message: string) => result.errors.push(message);
  let stages: Stage[];
  try {
    stages = parseDockerfile(text);
  } catch (error) {
    err(`cannot parse: ${(error as Error).message}`);
    return result;
  }
  const final = stages.at(-1);
  if (!final) {
    err("no FROM instruction");
    return result;
  }
  if (stages.length < 2) err("must be multi-stage (dependencies installed in a separate stage)");
  const stageNames = new Set(
    stages.map((stage) => stage.name).filter((stageName) => stageName !== undefined),
  );
  for (const stage of stages) {
    if (!stageNames.has(stage.base) && !isPinnedImage(stage.base)) {
      err(`base image ${stage.base} is not pinned to an exact version`);
    }
  }
  const users = final.instructions.filter((instruction) => instruction.keyword === "USER");
  const user = users.at(-1)?.args.trim();
  if (user === undefined || /^(root|0)(:|$)/.test(user))
    err("the final stage must switch to a non-root USER");
  if (
    !final.instructions.some(
      (instruction) => instruction.keyword === "HEALTHCHECK" && !/^NONE\b/i.test(instruction.args),
    )
  ) {
    err("the final stage needs a HEALTHCHECK");
  }
  if (
    !final.instructions.some(
      (instruction) => instruction.keyword === "CMD" || instruction.keyword === "ENTRYPOINT",
    )
  ) {
    err("the final stage needs a CMD or ENTRYPOINT");
  }
  // The runtime's node_modules must be a production install from the lockfile: either done in
  // the final stage or copied from a stage that did it.
  const installs = (stage: Stage) =>
    stage.instructions.some(
      (instruction) =>
        instruction.keyword === "RUN" &&
        /\bnpm ci\b/.test(instruction.args) &&
        /--omit=dev\b/.test(instruction.args),
    );
  const copiedFrom = final.instructions
    .filter((instruction) => instruction.keyword === "COPY" && /node_modules/.test(instruction.args))
    .map((instruction) => /--from=(\S+)/.exec(instruction.args)?.[1]);
  const sources = stages.filter((stage) => stage === final || copiedFrom.includes(stage.name));
  if (!sources.some(installs))
    err("node_modules must come from `npm ci --omit=dev` (production dependencies only)");
  for (const stage of stages) {
    for (const instruction of stage.instructions) {
      if (instruction.keyword === "RUN" && /\bnpm (install|i)\b/.test(instruction.args)) {
        err(`line ${instruction.line}: use npm ci (reproducible from the lockfile), not npm install`);
      }
      if (instruction.keyword === "ADD" && /https?:\/\//.test(instruction.args)) {
        err(`line ${instruction.line}: ADD of a URL is not reproducible`);
      }
      if (
        instruction.keyword === "COPY" &&
        /(^|\s)\.\s+\S+$/.test(instruction.args) &&
        !/--from=/.test(instruction.args)
      ) {
        result.warnings.push(
          `line ${instruction.line}: COPY . copies the whole context; copy what the image needs`,
        );
      }
    }
  }
  return result;
}
