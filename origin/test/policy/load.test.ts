import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadPolicyFile, parsePolicyText } from "../../src/policy/load.ts";

const dir = mkdtempSync(join(tmpdir(), "policy-"));

describe("loading a policy file", () => {
  it("reads YAML and JSON by extension", () => {
    const policy = {
      version: 1,
      rules: [{ owners: ["*"], services: ["*"], actions: ["provision"], paths: ["a/*/*"], purposes: ["*"] }],
    };
    const json = join(dir, "policy.json");
    writeFileSync(json, JSON.stringify(policy));
    expect(loadPolicyFile(json)).toEqual(policy);
    const yaml = join(dir, "policy.yml");
    writeFileSync(
      yaml,
      "version: 1\nrules:\n  - owners: ['*']\n    services: ['*']\n    actions: [provision]\n    paths: ['a/*/*']\n    purposes: ['*']\n",
    );
    expect(loadPolicyFile(yaml)).toEqual(policy);
  });

  it("names the file and the problem", () => {
    expect(() => loadPolicyFile(join(dir, "missing.yaml"))).toThrow(
      /Cannot read policy file .*missing\.yaml/,
    );
    expect(() => parsePolicyText("version: 2\nrules: []\n", "p.yaml")).toThrow(
      /Invalid policy file p\.yaml:\n {2}- version/,
    );
    expect(() => parsePolicyText("{", "p.json")).toThrow(/Policy file p\.json is not valid \.json/);
    expect(() =>
      parsePolicyText(
        "version: 1\nrules:\n  - owners: ['*']\n    services: ['*']\n    actions: [delete]\n    paths: ['a/**b']\n    purposes: ['*']\n",
        "p.yaml",
      ),
    ).toThrow(/rules\.0\.actions\.0[\s\S]*rules\.0\.paths\.0: '\*\*' must be a whole segment/);
    expect(() => parsePolicyText("version: 1\nrules: []\nextra: true\n", "p.yaml")).toThrow(/extra/);
    expect(() =>
      parsePolicyText(
        "version: 1\nrules:\n  - owners: []\n    services: ['*']\n    actions: [rotate]\n    paths: ['a']\n    purposes: ['*']\n",
        "p.yaml",
      ),
    ).toThrow(/rules\.0\.owners/);
  });
});
