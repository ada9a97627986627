import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { OnePasswordConnect } from "@1password/connect";
import { importSigningKey, signRequest } from "@chittyconnect/contract";
import { exportJWK, generateKeyPair } from "jose";
import { pino } from "pino";
import { startConnectServer } from "../dev/src/connect/server.ts";
import { parseOriginConfig } from "../origin/src/config.ts";
import { startOrigin } from "../origin/src/server.ts";
import { formatTable, type Measurement, measure } from "./harness.ts";

/**
 * `npm run bench`: what the origin adds on top of a direct `@1password/connect` call to the same
 * dev Connect server, measured in one run so the machine's speed cancels out of the ratios.
 * BENCH_SECONDS and BENCH_CONCURRENCY tune the run.
 */
const repoRoot = resolve(import.meta.dirname, "..");
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 16);
const options = { concurrency, durationMs: seconds * 1000, warmupMs: 1000 };

const TOKEN = "bench-connect-token-0123456789";
const SIGNING_SECRET = "bench-signing-key-0123456789-abcdefghijklmnop";
const OWNER = "01-C-BENCH-0001-P-2611-A-1";
const body = JSON.stringify({
  service: "chittyid",
  credentialPath: "services/chittyid/service_token",
  purpose: "benchmark",
});

const workDir = mkdtempSync(join(tmpdir(), "chitty-bench-"));
const connect = await startConnectServer({ port: 0, token: TOKEN, synced: true });
const parsed = parseOriginConfig({
  HOST: "127.0.0.1",
  PORT: "0",
  OP_CONNECT_HOST: connect.url,
  OP_CONNECT_TOKEN: TOKEN,
  EDGE_SIGNING_KEY: SIGNING_SECRET,
  AUDIT_HMAC_KEY: "bench-audit-key-0123456789-abcdefghijklmnopq",
  AUDIT_CHAIN_KEY: "audit-chain-key-for-tests-0123456789abcdef",
  POLICY_FILE: join(repoRoot, "origin/fixtures/policy.yaml"),
  AUDIT_LOG_FILE: join(workDir, "audit.log"),
});
if (!parsed.ok) throw new Error(parsed.message);
const origin = await startOrigin({ config: parsed.config, logger: pino({ level: "silent" }) });
const key = await importSigningKey(SIGNING_SECRET);

const op = OnePasswordConnect({ serverURL: connect.url, token: TOKEN, keepAlive: true });
const vaultId = (await op.listVaults()).find((v) => v.name === "services")!.id!;

const directByTitle = async () => {
  const item = await op.getItemByTitle(vaultId, "chittyid");
  if (!item.fields?.some((f) => f.label === "service_token" && f.value)) throw new Error("field missing");
};

const provisionUrl = `${origin.url}/v1/credentials/provision`;
const viaOrigin = (payload: string) => async () => {
  const headers = await signRequest({ method: "POST", url: provisionUrl, body: payload, owner: OWNER, key });
  const response = await fetch(provisionUrl, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: payload,
  });
  await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`status ${response.status}`);
};

const recipient = await generateKeyPair("ECDH-ES", { crv: "P-256" });
const jwk = await exportJWK(recipient.publicKey);
const sealedBody = JSON.stringify({
  ...JSON.parse(body),
  recipientPublicKey: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y },
});

console.log(`ChittyConnect credential benchmark: ${seconds}s per case, concurrency ${concurrency}`);
const results: Measurement[] = [];
results.push(await measure("direct: @1password/connect getItemByTitle", directByTitle, options));
results.push(await measure("origin: POST /v1/credentials/provision", viaOrigin(body), options));
results.push(await measure("origin: provision, sealed (JWE)", viaOrigin(sealedBody), options));
console.log(`\n${formatTable(results)}\n`);

const [baseline, ...others] = results as [Measurement, ...Measurement[]];
console.log("ratios against the direct SDK call (throughput: higher is better; latency: lower is better)");
for (const r of others) {
  console.log(
    `  ${r.name}: throughput ×${(r.throughput / baseline.throughput).toFixed(2)}, ` +
      `p50 ×${(r.p50 / baseline.p50).toFixed(2)}, p99 ×${(r.p99 / baseline.p99).toFixed(2)}`,
  );
}

await origin.close();
await connect.close();
rmSync(workDir, { recursive: true, force: true });
