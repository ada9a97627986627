import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { StackEnvSchema } from "../../dev/src/stack/settings.ts";
import { OriginEnvSchema } from "../../origin/src/config.ts";
import { repoRoot } from "../support/stack.ts";

/**
 * The edge's schema keys. Its modules are typed against the Workers runtime, which this (Node)
 * project's typecheck does not load, so they are imported by a computed path that tsc does not follow.
 */
async function edgeVariables(): Promise<string[]> {
  const load = (path: string) =>
    import(join(repoRoot, "edge/src", path)) as Promise<Record<string, { shape: object }>>;
  const [edge, documents, sessions] = await Promise.all([
    load("config.ts"),
    load("documents/config.ts"),
    load("sessions/config.ts"),
  ]);
  return [edge.EdgeConfigSchema, documents.DocumentConfigSchema, sessions.SessionsConfigSchema].flatMap(
    (schema) => Object.keys(schema?.shape ?? {}),
  );
}

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

  it("names every variable the origin, the edge and the local stack validate", async () => {
    const fromEdge = await edgeVariables();
    expect(fromEdge).toEqual(
      expect.arrayContaining(["ADMIN_TOKEN", "DOCUMENT_PRESIGN_MAX_SECONDS", "SESSION_TIMEOUT"]),
    );
    const read = [...Object.keys(OriginEnvSchema.shape), ...fromEdge, ...Object.keys(StackEnvSchema.shape)];
    expect(read.length).toBeGreaterThan(60);
    expect([...new Set(read)].filter((name) => !all.includes(name))).toEqual([]);
  });
});
