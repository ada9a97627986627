import { loadPolicyFile } from "../../origin/src/policy/load.ts";
import { type SectionResult, section } from "./report.ts";

/** Loads the policy exactly as the origin will at start-up, then flags rules too broad for production. */
export function checkPolicyFile(file: string): SectionResult {
  const result = section("policy");
  let policy: ReturnType<typeof loadPolicyFile>;
  try {
    policy = loadPolicyFile(file);
  } catch (error) {
    result.errors.push((error as Error).message);
    return result;
  }
  if (policy.rules.length === 0) result.warnings.push(`${file}: no rules, so every request is denied`);
  for (const [index, rule] of policy.rules.entries()) {
    if (rule.owners.includes("*")) {
      result.warnings.push(
        `${file}: rule ${index + 1} grants every owner ("*"), so any token bound to its services passes it; name the owners' ChittyIDs`,
      );
    }
    if (rule.paths.some((path) => path === "**" || path.startsWith("*/") || path.startsWith("**/"))) {
      result.warnings.push(`${file}: rule ${index + 1} covers every vault`);
    }
  }
  return result;
}
