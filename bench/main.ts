import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";

/**
 * `./run bench [name…]`: runs every `bench/*.bench.ts` (or only those named, e.g. `credentials`)
 * one after another in its own process, so one case's servers and memory never skew the next.
 */
const dir = import.meta.dirname;
const all = readdirSync(dir)
  .filter((file) => file.endsWith(".bench.ts"))
  .map((file) => file.slice(0, -".bench.ts".length))
  .sort();
const wanted = process.argv.slice(2).filter((arg) => arg !== "--");
const unknown = wanted.filter((name) => !all.includes(name));
if (unknown.length > 0) {
  console.error(`unknown benchmark ${unknown.join(", ")}; known: ${all.join(", ")}`);
  process.exit(2);
}
let failed = 0;
for (const name of wanted.length > 0 ? wanted : all) {
  console.log(`\n##### bench: ${name}`);
  const result = spawnSync(process.execPath, [join(dir, `${name}.bench.ts`)], { stdio: "inherit" });
  if (result.status !== 0) {
    console.error(`bench ${name} failed (exit ${result.status ?? result.signal})`);
    failed++;
  }
}
process.exit(failed === 0 ? 0 : 1);
