import {
  importSigningKey,
  MemoryNonceStore,
  signRequest,
  verifyRequest,
  verifySignedRequest,
} from "@chittyconnect/contract";
import { importNodeSigningKey, nodeCryptoSuite } from "../origin/src/http/node-signing.ts";

/**
 * The origin's per-request signature cost: the contract's WebCrypto verifier (the Worker's) against
 * the node:crypto one the origin uses, on the same signed requests; then the in-memory nonce store
 * under a steady rate for ten simulated minutes, whose size must stay flat after the first window.
 */
const SECRET = "bench-signing-secret-0123456789-abcdefghij";
const COUNT = 20_000;
const url = "https://origin.internal/v1/credentials/provision";
const body = JSON.stringify({
  service: "chittyid",
  credentialPath: "services/chittyid/service_token",
  purpose: "bench",
});
const now = Date.now();
const webKey = await importSigningKey(SECRET);
const nodeKey = importNodeSigningKey(SECRET);
const requests = await Promise.all(
  Array.from({ length: COUNT }, async () => {
    const headers = await signRequest({
      method: "POST",
      url,
      body,
      owner: "owner-bench",
      services: ["chittyid"],
      key: webKey,
      now,
    });
    return new Headers(headers);
  }),
);

async function timeVerifier(
  name: string,
  verify: (headers: Headers, nonces: MemoryNonceStore) => Promise<{ ok: boolean }>,
) {
  const nonces = new MemoryNonceStore();
  const started = performance.now();
  for (const headers of requests) {
    if (!(await verify(headers, nonces)).ok) throw new Error(`${name}: a valid signature failed`);
  }
  const microseconds = ((performance.now() - started) * 1000) / COUNT;
  return { name, microseconds };
}

const web = await timeVerifier("WebCrypto (contract, Worker side)", (headers, nonces) =>
  verifyRequest({ method: "POST", url, body, headers, keys: [webKey], nonces, now }),
);
const node = await timeVerifier("node:crypto (origin)", (headers, nonces) =>
  verifySignedRequest({ method: "POST", url, body, headers, keys: [nodeKey], nonces, now }, nodeCryptoSuite),
);
console.log(`Signature verification, ${COUNT} signed provisions, one after another`);
for (const row of [web, node]) {
  console.log(`  ${row.name.padEnd(36)} ${row.microseconds.toFixed(1).padStart(7)} µs/request`);
}
console.log(`  node:crypto vs WebCrypto: ${(web.microseconds / node.microseconds).toFixed(1)}× faster`);

// 1,000 signed requests a second for ten minutes with a 60 s window: the store holds one window.
const store = new MemoryNonceStore();
const sizes: number[] = [];
const windowMs = 60_000;
for (let ms = 0; ms < 600_000; ms++) {
  store.remember(`nonce-${ms}`, ms + windowMs + 1, ms);
  if ((ms + 1) % 60_000 === 0) sizes.push(store.size);
}
console.log("\nNonce store at 1,000 requests/s, 60 s window: entries held at the end of each minute");
console.log(`  ${sizes.join(", ")}`);
const flat = sizes.slice(1).every((size) => size === sizes[1]);
console.log(`  flat after the first window: ${flat ? "yes" : "NO"}`);
if (!flat) process.exitCode = 1;
