import { parseArgs } from "node:util";
import { importSigningKey } from "@chittyconnect/contract";
import { type Anchor, AnchorClient } from "./anchor.ts";
import { type ChainHead, readLogInstance, verifyLog } from "./chain.ts";
import { listSegments, segmentPath } from "./segments.ts";

const USAGE = `usage: audit-verify <audit-log-base> [--anchor <instance>:<seq>:<hash>] [--edge <url>]

Checks every segment <base>.000001, … in one streaming pass: each line's MAC under AUDIT_CHAIN_KEY
(read from the environment), seq, prevHash and instance. With an anchor the log must contain that
head, so a cut tail or a rewrite shows. --edge <url> (or EDGE_URL) fetches this instance's anchor
from the edge, signed with EDGE_SIGNING_KEY from the environment.
Exit 0: the chain holds; 1: it does not (or the anchor could not be fetched); 2: usage.`;

function fail(message: string, code = 1): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

function parseAnchor(text: string): ChainHead {
  const match = /^([A-Za-z0-9][A-Za-z0-9_-]*):(\d+):([0-9a-f]{64})$/.exec(text);
  if (!match) fail(`--anchor must be <instance>:<seq>:<64 hex hash>\n${USAGE}`, 2);
  return { instance: match[1]!, seq: Number(match[2]), hash: match[3]! };
}

let parsed: ReturnType<
  typeof parseArgs<{
    options: { anchor: { type: "string" }; edge: { type: "string" } };
    allowPositionals: true;
  }>
>;
try {
  parsed = parseArgs({
    // `./run audit:verify -- <base> …` hands the separator on; it is not the end of the options here.
    args: process.argv.slice(2).filter((arg, index) => !(index === 0 && arg === "--")),
    options: { anchor: { type: "string" }, edge: { type: "string" } },
    allowPositionals: true,
  });
} catch (error) {
  fail(`${(error as Error).message}\n${USAGE}`, 2);
}
const base = parsed.positionals[0];
if (!base || parsed.positionals.length > 1) fail(USAGE, 2);
if ((await listSegments(base)).length === 0) fail(`no audit segments ${segmentPath(base, 1)}, … found`);
const key = process.env.AUDIT_CHAIN_KEY;
if (!key)
  fail("AUDIT_CHAIN_KEY must be set in the environment (the key the origin writes the chain with)", 2);

let anchor: ChainHead | undefined = parsed.values.anchor ? parseAnchor(parsed.values.anchor) : undefined;
const edgeUrl = parsed.values.edge ?? process.env.EDGE_URL;
if (!anchor && edgeUrl) {
  const signingKey = process.env.EDGE_SIGNING_KEY;
  if (!signingKey) fail("EDGE_SIGNING_KEY must be set to fetch the anchor from the edge", 2);
  const instance = process.env.AUDIT_INSTANCE_ID || (await readLogInstance(base, key));
  if (instance) {
    let fetched: Anchor | undefined;
    try {
      const client = new AnchorClient({
        edgeUrl,
        key: await importSigningKey(signingKey),
        timeoutMs: 10_000,
      });
      fetched = await client.fetch(instance);
    } catch (error) {
      fail(`cannot fetch the anchor from ${edgeUrl}: ${(error as Error).message}`);
    }
    if (fetched) anchor = { instance: fetched.instance, seq: fetched.seq, hash: fetched.hash };
    else process.stdout.write(`note: the edge holds no anchor for ${instance}\n`);
  }
}

const started = performance.now();
let result: Awaited<ReturnType<typeof verifyLog>>;
try {
  result = await verifyLog(base, key, { anchor });
} catch (error) {
  fail(`cannot read ${base}: ${(error as Error).message}`);
}
const ms = Math.round(performance.now() - started);
if (!result.ok) {
  process.stdout.write(
    `BROKEN in ${segmentPath(base, result.segment)} at line ${result.line}: ${result.reason}\n`,
  );
  process.exit(1);
}
const head = result.head ? ` up to seq ${result.head.seq} of ${result.head.instance}` : "";
const anchored = result.anchored
  ? `, contains the anchor at seq ${anchor?.seq}`
  : anchor
    ? ""
    : ", no anchor checked";
process.stdout.write(`OK ${result.count} entries${head}${anchored} (${ms} ms)\n`);
if (result.torn) {
  process.stdout.write(
    `note: ${segmentPath(base, result.torn.segment)} ends with a partial line of ${result.torn.bytes} bytes ` +
      "(a crash mid-write); the origin cuts it off at start\n",
  );
}
