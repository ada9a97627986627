import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { StackEnvSchema } from "../../dev/src/stack/settings.ts";
import { EdgeConfigSchema } from "../../edge/src/config.ts";
import { DocumentConfigSchema } from "../../edge/src/documents/config.ts";
import { SessionsConfigSchema } from "../../edge/src/sessions/config.ts";
import { OriginEnvSchema } from "../../origin/src/config.ts";
import { repoRoot } from "../support/stack.ts";

/** The README's "Configuration reference", as `### ` sections and the variables their tables name. */
function referenceSections(): Map<string, string[]> {
  const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
  const start = readme.indexOf("\n## Configuration reference\n");
  expect(start).toBeGreaterThan(0);
  const end = readme.indexOf("\n## ", start + 1);
  const sections = new Map<string, string[]>();
  let current = "(intro)";
  for (const line of readme.slice(start, end).split("\n")) {
    if (line.startsWith("### ")) current = line;
    if (!line.startsWith("| `")) continue;
    const firstCell = line.split("|")[1] ?? "";
    // `NAME` / `_FILE` rows name NAME; `_FILE` is a suffix, not a variable.
    const names = [...firstCell.matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((match) => match[1] as string);
    sections.set(current, [...(sections.get(current) ?? []), ...names]);
  }
  return sections;
}

describe("the README's configuration reference", () => {
  const sections = referenceSections();
  const all = [...sections.values()].flat();

  it("lists each variable once in its section, and across sections only what two programs both read", () => {
    for (const [section, names] of sections) {
      const repeated = names.filter((name, i) => names.indexOf(name) !== i);
      expect(repeated, section).toEqual([]);
    }
    const repeatedAcross = [...new Set(all.filter((name, i) => all.indexOf(name) !== i))];
    // The shared signing key is a setting of the edge (a secret) and of the origin (env or file).
    expect(repeatedAcross).toEqual(["EDGE_SIGNING_KEY"]);
  });

  it("names every variable the origin, the edge and the local stack validate", () => {
    const read = [
      ...Object.keys(OriginEnvSchema.shape),
      ...Object.keys(EdgeConfigSchema.shape),
      ...Object.keys(DocumentConfigSchema.shape),
      ...Object.keys(SessionsConfigSchema.shape),
      ...Object.keys(StackEnvSchema.shape),
    ];
    expect(read.length).toBeGreaterThan(60);
    expect([...new Set(read)].filter((name) => !all.includes(name))).toEqual([]);
  });
});
