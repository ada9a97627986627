import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { OnePasswordConnect } from "@1password/connect";
import { importSigningKey, signRequest } from "@chittyconnect/contract";
import autocannon from "autocannon";
import { exportJWK, generateKeyPair } from "jose";
import { startConnectServer } from "../dev/src/connect/server.ts";
import { formatTable, type Measurement, measure } from "./harness.ts";
import { startOriginProcess } from "./origin-process.ts";

/**
 * `npm run bench credentials`: the origin's fixed cost per request and what it adds on top of a
 * direct `@1password/connect` call to the same dev Connect server, with the baselines measured in
 * the same run so the machine's speed cancels out of the ratios:
 * - plain HTTP (autocannon): a bare `node:http` server answering a 256-byte body (GET, and POST
 *   with the signed headers and body of a provision) against the origin's `/healthz`;
 * - SDK calls (the closed-loop harness): one `getItemById`, the Connect floor of a warm provision,
 *   against provisions through the origin;
 * - the origin's RSS after BENCH_PROVISIONS (100,000) provisions.
 * The origin and the bare server each run in their own process, with production's Node flags.
 * BENCH_SECONDS and BENCH_CONCURRENCY tune the run.
 */
const repoRoot = resolve(import.meta.dirname, "..");
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 16);
const provisionsForRss = Number(process.env.BENCH_PROVISIONS ?? 100_000);
const options = { concurrency, durationMs: seconds * 1000, warmupMs: 1000 };
const GOALS = { healthz: 0.85, provision: 0.8, rssMiB: 128 };

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
const origin = await startOriginProcess({
  OP_CONNECT_HOST: connect.url,
  OP_CONNECT_TOKEN: TOKEN,
  EDGE_SIGNING_KEY: SIGNING_SECRET,
  AUDIT_HMAC_KEY: "bench-audit-key-0123456789-abcdefghijklmnopq",
  AUDIT_CHAIN_KEY: "bench-audit-chain-key-0123456789-abcdefghijk",
  POLICY_FILE: join(repoRoot, "origin/fixtures/policy.yaml"),
  AUDIT_LOG_FILE: join(workDir, "audit", "audit.log"),
  // One clock signs and verifies: no start-up refusal.
  CLOCK_SKEW_MS: "0",
});
const bare = await startBareServer();
const key = await importSigningKey(SIGNING_SECRET);

const op = OnePasswordConnect({ serverURL: connect.url, token: TOKEN, keepAlive: true });
const vaultId = (await op.listVaults()).find((v) => v.name === "services")!.id!;
const itemId = (await op.getItemByTitle(vaultId, "chittyid")).id!;
const hasToken = (item: { fields?: { label?: string; value?: string }[] }) => {
  if (!item.fields?.some((f) => f.label === "service_token" && f.value)) throw new Error("field missing");
};

const provisionUrl = `${origin.url}/v1/credentials/provision`;
let provisions = 0;
const viaOrigin = (payload: string) => async () => {
  const headers = await signRequest({
    method: "POST",
    url: provisionUrl,
    body: payload,
    owner: OWNER,
    services: ["*"],
    key,
  });
  const response = await fetch(provisionUrl, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: payload,
  });
  await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`status ${response.status}`);
  provisions++;
};

const recipient = await generateKeyPair("ECDH-ES", { crv: "P-256" });
const jwk = await exportJWK(recipient.publicKey);
const sealedBody = JSON.stringify({
  ...JSON.parse(body),
  recipientPublicKey: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y },
});

/** autocannon replays one fixed request; its throughput and latency in the harness's shape. */
async function cannon(
  name: string,
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
) {
  const run = (duration: number) =>
    autocannon({
      url,
      connections: concurrency,
      duration,
      ...init,
      method: init.method === "POST" ? "POST" : "GET",
    });
  await run(1);
  const result = await run(seconds);
  const measurement: Measurement = {
    name,
    requests: result.requests.total,
    errors: result.errors + result.non2xx,
    seconds: result.duration,
    throughput: result.requests.average,
    p50: result.latency.p50,
    // autocannon has no p95; its p97.5 stands in (never flatters).
    p95: result.latency.p97_5,
    p99: result.latency.p99,
  };
  return measurement;
}

// Signed once: the bare server ignores them, they only make its requests as large as the origin's.
const signedHeaders = await signRequest({
  method: "POST",
  url: `${bare.url}/`,
  body,
  owner: OWNER,
  services: ["*"],
  key,
});
console.log(`ChittyConnect credential benchmark: ${seconds}s per case, concurrency ${concurrency}`);
const http: Measurement[] = [];
http.push(await cannon("bare node:http: GET, 256-byte body", `${bare.url}/`));
http.push(
  await cannon("bare node:http: POST, signed headers", `${bare.url}/`, {
    method: "POST",
    headers: { "content-type": "application/json", ...signedHeaders },
    body,
  }),
);
http.push(await cannon("origin: GET /healthz", `${origin.url}/healthz`));
console.log(`\nplain HTTP (autocannon, ${concurrency} connections)\n${formatTable(http)}\n`);

const sdk: Measurement[] = [];
sdk.push(
  await measure(
    "direct: @1password/connect getItemById",
    async () => hasToken(await op.getItemById(vaultId, itemId)),
    options,
  ),
);
sdk.push(
  await measure(
    "direct: @1password/connect getItemByTitle",
    async () => hasToken(await op.getItemByTitle(vaultId, "chittyid")),
    options,
  ),
);
sdk.push(await measure("origin: POST /v1/credentials/provision", viaOrigin(body), options));
sdk.push(await measure("origin: provision, sealed (JWE)", viaOrigin(sealedBody), options));
console.log(`SDK calls and signed provisions (closed loop, ${concurrency} at once)\n${formatTable(sdk)}\n`);

const [bareGet, , healthz] = http as [Measurement, Measurement, Measurement];
const [byId, , provision] = sdk as [Measurement, Measurement, Measurement];
const verdict = (ok: boolean) => (ok ? "met" : "NOT met");
const healthzRatio = healthz.throughput / bareGet.throughput;
const provisionRatio = provision.throughput / byId.throughput;
console.log("goals (throughput ratios measured in this run)");
console.log(
  `  /healthz ×${healthzRatio.toFixed(2)} of bare node:http GET (goal ≥ ${GOALS.healthz}: ${verdict(healthzRatio >= GOALS.healthz)})`,
);
console.log(
  `  warm provision ×${provisionRatio.toFixed(2)} of one getItemById (goal ≥ ${GOALS.provision}: ${verdict(provisionRatio >= GOALS.provision)})`,
);
for (const r of sdk.slice(1)) {
  console.log(
    `  ${r.name}: throughput ×${(r.throughput / byId.throughput).toFixed(2)}, ` +
      `p50 ×${(r.p50 / byId.p50).toFixed(2)}, p99 ×${(r.p99 / byId.p99).toFixed(2)} of getItemById`,
  );
}

// Memory: keep provisioning until the origin has served provisionsForRss of them in this run.
const started = performance.now();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (provisions < provisionsForRss) await viaOrigin(body)();
  }),
);
const rss = origin.rssMiB();
console.log(
  `  origin RSS ${rss.toFixed(0)} MiB after ${provisions.toLocaleString("en")} provisions ` +
    `(goal ≤ ${GOALS.rssMiB} MiB: ${verdict(rss <= GOALS.rssMiB)}; the last ${(
      (performance.now() - started) / 1000
    ).toFixed(0)} s of them unmeasured load)`,
);

await origin.close();
bare.close();
await connect.close();
rmSync(workDir, { recursive: true, force: true });

async function startBareServer(): Promise<{ url: string; close(): void }> {
  const child = spawn(process.execPath, [join(import.meta.dirname, "bare-server.ts")], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise<string>((done, fail) => {
    child.stdout.once("data", (chunk: Buffer) => done(chunk.toString().trim()));
    child.once("exit", (code) => fail(new Error(`bare server exited with ${code}`)));
  });
  return { url, close: () => child.kill("SIGTERM") };
}
