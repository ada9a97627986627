import { readFileSync } from "node:fs";
import { verifyChain } from "./chain.ts";

/** `node origin/src/audit/verify-cli.ts <file>`: exit 0 when the chain holds, 1 when it does not. */
const file = process.argv[2];
if (!file) {
  process.stderr.write("usage: audit-verify <audit-log-file>\n");
  process.exit(2);
}
let text: string;
try {
  text = readFileSync(file, "utf8");
} catch (error) {
  process.stderr.write(`cannot read ${file}: ${(error as Error).message}\n`);
  process.exit(1);
}
const result = verifyChain(text);
if (result.ok) {
  process.stdout.write(`OK ${result.count} entries\n`);
} else {
  process.stdout.write(`BROKEN at line ${result.line}: ${result.reason}\n`);
  process.exit(1);
}
