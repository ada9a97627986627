import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkDockerfile, parseDockerfile } from "../../scripts/deploy-checks/dockerfile.ts";

const read = (name: string) => readFileSync(new URL(`../../${name}`, import.meta.url), "utf8");

const GOOD = `FROM node:22.23.3-bookworm-slim AS deps
RUN npm ci --omit=dev
FROM node:22.23.3-bookworm-slim
COPY --from=deps /app/node_modules ./node_modules
USER node
HEALTHCHECK CMD ["node", "-e", "1"]
CMD ["node", "main.ts"]
`;

describe("origin/Dockerfile", () => {
  const text = read("origin/Dockerfile");
  const stages = parseDockerfile(text);
  const final = stages.at(-1);

  it("passes the lint", () => {
    const result = checkDockerfile(text, "origin/Dockerfile");
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual([]);
  });

  it("is multi-stage on an exactly pinned Node 22 base", () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) expect(stage.base).toMatch(/^node:22\.\d+\.\d+-bookworm-slim$/);
  });

  it("runs as the non-root node user with a health check, and runs main.ts", () => {
    const keywords = final?.instructions.map((instruction) => instruction.keyword) ?? [];
    expect(final?.instructions.filter((i) => i.keyword === "USER").at(-1)?.args).toBe("node");
    expect(keywords).toContain("HEALTHCHECK");
    expect(final?.instructions.find((i) => i.keyword === "CMD")?.args).toBe('["node", "origin/src/main.ts"]');
  });

  it("installs production dependencies from the lockfile and copies only them into the runtime", () => {
    const deps = stages.find((stage) => stage.name === "deps");
    const install = deps?.instructions.find((i) => i.keyword === "RUN" && i.args.includes("npm ci"));
    expect(install?.args).toMatch(/--omit=dev/);
    expect(deps?.instructions.some((i) => i.keyword === "COPY" && i.args.includes("package-lock.json"))).toBe(
      true,
    );
    expect(final?.instructions.some((i) => i.keyword === "COPY" && i.args.startsWith("--from=deps"))).toBe(
      true,
    );
    const copies = final?.instructions.filter((i) => i.keyword === "COPY").map((i) => i.args) ?? [];
    expect(copies).toContain("contract/src contract/src");
    expect(copies).toContain("origin/src origin/src");
  });

  it("keeps secrets and installed trees out of the build context", () => {
    const ignore = read(".dockerignore").split("\n");
    for (const entry of ["**/node_modules", ".env", "1password-credentials.json", ".git"])
      expect(ignore).toContain(entry);
  });
});

describe("dev/Dockerfile", () => {
  it("passes the same lint", () => {
    expect(checkDockerfile(read("dev/Dockerfile"), "dev/Dockerfile").errors).toEqual([]);
  });
});

describe("checkDockerfile", () => {
  it("accepts a minimal good file", () => {
    expect(checkDockerfile(GOOD, "x").errors).toEqual([]);
  });

  const broken: [string, string, RegExp][] = [
    ["latest base", GOOD.replaceAll("node:22.23.3-bookworm-slim", "node:latest"), /not pinned/],
    ["major-only base", GOOD.replaceAll("node:22.23.3-bookworm-slim", "node:22-slim"), /not pinned/],
    ["no USER", GOOD.replace("USER node\n", ""), /non-root USER/],
    ["USER root", GOOD.replace("USER node", "USER root"), /non-root USER/],
    ["USER 0:0", GOOD.replace("USER node", "USER 0:0"), /non-root USER/],
    ["no HEALTHCHECK", GOOD.replace(/HEALTHCHECK.*\n/, ""), /HEALTHCHECK/],
    ["HEALTHCHECK NONE", GOOD.replace(/HEALTHCHECK.*\n/, "HEALTHCHECK NONE\n"), /HEALTHCHECK/],
    [
      "single stage",
      GOOD.split("\n")
        .slice(2)
        .join("\n")
        .replace(/COPY --from.*\n/, "RUN npm ci --omit=dev\n"),
      /multi-stage/,
    ],
    ["dev dependencies", GOOD.replace("npm ci --omit=dev", "npm ci"), /--omit=dev/],
    ["npm install", GOOD.replace("npm ci --omit=dev", "npm install --omit=dev"), /npm ci/],
  ];
  it.each(broken)("rejects %s", (_, text, expected) => {
    const { errors } = checkDockerfile(text, "x");
    expect(
      errors.some((error) => expected.test(error)),
      errors.join("\n"),
    ).toBe(true);
  });

  it("parses any instruction list, with or without continuations, back to the same instructions", () => {
    const keyword = fc.constantFrom("RUN", "COPY", "ENV", "USER", "WORKDIR", "EXPOSE", "CMD");
    const word = fc.stringMatching(/^[A-Za-z0-9_./=:-]{1,12}$/);
    const instruction = fc.record({ keyword, words: fc.array(word, { minLength: 1, maxLength: 6 }) });
    fc.assert(
      fc.property(fc.array(instruction, { maxLength: 12 }), fc.boolean(), (list, wrap) => {
        const body = list
          .map(({ keyword: k, words }) => `${k} ${wrap ? words.join(" \\\n    ") : words.join(" ")}`)
          .join("\n# a comment\n");
        const [stage] = parseDockerfile(`FROM base:1.2.3 AS build\n${body}\n`);
        expect(stage?.name).toBe("build");
        expect(stage?.instructions.map((i) => [i.keyword, i.args])).toEqual(
          list.map(({ keyword: k, words }) => [k, words.join(" ")]),
        );
      }),
    );
  });
});
