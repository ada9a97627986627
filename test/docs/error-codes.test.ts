import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../support/stack.ts";

/** Every hop whose errors reach an API caller: the edge answers, and passes on nginx's and the origin's. */
const SOURCE_ROOTS = ["edge/src", "origin/src", "contract/src", "nginx"];

function sourceFiles(dir: string): string[] {
  return readdirSync(join(repoRoot, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.ts$/.test(entry.name) && !/\.d\.ts$/.test(entry.name) ? [path] : [];
  });
}

/** The text of the `{ … }` object literal around `index`, found by brace depth. */
function enclosingObject(text: string, index: number): string {
  let start = index;
  for (let depth = 0; start > 0; start--) {
    const char = text[start];
    if (char === "}") depth++;
    if (char === "{" && depth-- === 0) break;
  }
  let end = index;
  for (let depth = 0; end < text.length; end++) {
    const char = text[end];
    if (char === "{") depth++;
    if (char === "}" && depth-- === 0) break;
  }
  return text.slice(start, end + 1);
}

const CODE_LITERAL = /["'`]([a-z][a-z0-9]*(?:_[a-z0-9]+|_\$\{[^}]+\})+|[a-z]+)["'`]/g;

/**
 * Codes as the source spells them, found two ways so that new modules are covered without a list:
 * - a `code:` member of an object that also has a `status` or `title` (a ProblemError or problem
 *   body; zod's `{ code: "custom", message }` is not one), every string in its value (`a ?? "b"`);
 * - a call whose arguments start with an HTTP status then a string, `helper(504, "origin_timeout", …)`.
 * A template such as `http_${err.status}` is reported as `http_<status>`.
 */
function collectErrorCodes(): Map<string, string> {
  const codes = new Map<string, string>();
  const add = (code: string, file: string) => {
    const name = code.replace(/\$\{[^}]+\}/g, "<status>");
    if (!codes.has(name)) codes.set(name, file);
  };
  for (const file of SOURCE_ROOTS.flatMap(sourceFiles)) {
    const text = readFileSync(join(repoRoot, file), "utf8");
    for (const match of text.matchAll(/\bcode:\s*([^,\n]+)/g)) {
      const object = enclosingObject(text, match.index);
      if (!/\b(status|title)\s*[:,}]/.test(object)) continue;
      for (const literal of (match[1] ?? "").matchAll(CODE_LITERAL)) add(literal[1] ?? "", file);
    }
    for (const match of text.matchAll(/\(\s*[1-5]\d\d\s*,\s*["'`]([a-z][a-z0-9_]*)["'`]/g)) {
      add(match[1] ?? "", relative(repoRoot, join(repoRoot, file)));
    }
  }
  return codes;
}

/** Every `backticked` word in a Markdown table row of the README. */
function documentedCodes(): Set<string> {
  const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
  const rows = readme.split("\n").filter((line) => line.trimStart().startsWith("|"));
  return new Set(rows.flatMap((row) => [...row.matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? "")));
}

describe("the README's error tables", () => {
  it("find the codes the source can answer with (the collector works)", () => {
    const codes = collectErrorCodes();
    for (const known of ["unauthorized", "token_not_found", "not_found", "origin_timeout", "http_<status>"]) {
      expect(codes.has(known), known).toBe(true);
    }
    expect(codes.has("custom")).toBe(false);
  });

  it("list every error code the edge, the origin and the contract can answer with", () => {
    const documented = documentedCodes();
    const missing = [...collectErrorCodes()]
      .filter(([code]) => !documented.has(code))
      .map(([code, file]) => `${code} (${file})`);
    expect(missing, "add a row with each code, in backticks, to a README table").toEqual([]);
  });
});
