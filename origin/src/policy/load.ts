import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { parse as parseYaml } from "yaml";
import { type Policy, PolicySchema } from "./schema.ts";

const MAX_POLICY_BYTES = 1_048_576;

/** Reads and validates the policy at start-up; any problem throws naming the file and the issue. */
export function loadPolicyFile(file: string): Policy {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new Error(`Cannot read policy file ${file}: ${(error as Error).message}`);
  }
  return parsePolicyText(text, file);
}

export function parsePolicyText(text: string, file: string): Policy {
  if (Buffer.byteLength(text) > MAX_POLICY_BYTES) {
    throw new Error(`Policy file ${file} is larger than ${MAX_POLICY_BYTES} bytes`);
  }
  let data: unknown;
  try {
    data = extname(file).toLowerCase() === ".json" ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new Error(
      `Policy file ${file} is not valid ${extname(file) || "YAML"}: ${(error as Error).message}`,
    );
  }
  const result = PolicySchema.safeParse(data);
  if (!result.success) {
    const issues = result.error.issues
      .slice(0, 20)
      .map((issue) => `  - ${issue.path.join(".") || "(root)"}: ${issue.message}`);
    throw new Error(`Invalid policy file ${file}:\n${issues.join("\n")}`);
  }
  return result.data;
}
