import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CredentialResponseSchema, type SigningKey } from "@chittyconnect/contract";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningConnectServer, startConnectServer } from "../../dev/src/connect/server.ts";
import { GLOBAL_RATE_LIMIT, MAX_BODY_BYTES, RATE_LIMIT } from "../../nginx/render.ts";
import { parseOriginConfig } from "../../origin/src/config.ts";
import { createLogger } from "../../origin/src/logger.ts";
import { type RunningOrigin, startOrigin } from "../../origin/src/server.ts";
import { signedFetch, signedInit, signingKey } from "../../origin/test/helpers/signed-fetch.ts";
import {
  type CountingProxy,
  findNginx,
  type RunningNginx,
  startCountingProxy,
  startNginx,
} from "./nginx-harness.ts";

const nginxBinary = findNginx();
if (!nginxBinary) console.warn("nginx tests skipped: no nginx binary (apt-get install -y nginx)");

const CONNECT_TOKEN = "connect-token-for-nginx-tests";
const SIGNING_SECRET = "edge-signing-secret-for-nginx-tests-0123456789";
const OWNER = "01-C-TEST-0001-P-2501-A-X";
const OWNER_A = "01-C-TEST-000A-P-2501-A-X";
const OWNER_B = "01-C-TEST-000B-P-2501-A-X";
const CREDENTIAL = {
  service: "chittyid",
  credentialPath: "services/chittyid/service_token",
  purpose: "nginx-test",
};
const BEARER = "Bearer cc_live_bearer-token-that-must-not-be-logged";
const QUERY_SECRET = "query-secret-that-must-not-be-logged";

describe.skipIf(!nginxBinary)("nginx in front of the origin", () => {
  let dir: string;
  let connect: RunningConnectServer;
  let origin: RunningOrigin;
  let proxy: CountingProxy;
  let nginx: RunningNginx;
  let key: SigningKey;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "chitty-nginx-"));
    connect = await startConnectServer({ port: 0, token: CONNECT_TOKEN });
    const parsed = parseOriginConfig({
      OP_CONNECT_HOST: connect.url,
      OP_CONNECT_TOKEN: CONNECT_TOKEN,
      EDGE_SIGNING_KEY: SIGNING_SECRET,
      AUDIT_HMAC_KEY: "audit-hmac-key-for-nginx-tests-0123456789",
      AUDIT_CHAIN_KEY: "audit-chain-key-for-tests-0123456789abcdef",
      POLICY_FILE: fileURLToPath(new URL("../../origin/fixtures/policy.yaml", import.meta.url)),
      AUDIT_LOG_FILE: join(dir, "audit.log"),
      HOST: "127.0.0.1",
      PORT: "0",
      LOG_LEVEL: "silent",
      // Requests follow the start at once; the start-up grace would answer 503 origin_starting.
      CLOCK_SKEW_MS: "0",
    });
    if (!parsed.ok) throw new Error(parsed.message);
    origin = await startOrigin({ config: parsed.config, logger: createLogger({ level: "silent" }) });
    proxy = await startCountingProxy(origin.url);
    // The test plays the tunnel: 127.0.0.1 is the trusted connector, so CF-Connecting-IP names
    // the client. In compose only the tunnel network's subnet is trusted.
    nginx = await startNginx(nginxBinary ?? "", dir, {
      upstream: proxy.address,
      trustedProxies: ["127.0.0.1"],
    });
    key = await signingKey(SIGNING_SECRET);
  });

  afterAll(async () => {
    await nginx?.close();
    await proxy?.close();
    await origin?.close();
    await connect?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const provision = (clientIp: string, extra: Record<string, string> = {}) =>
    signedFetch(`${nginx.url}/v1/credentials/provision`, {
      key,
      owner: OWNER,
      body: CREDENTIAL,
      headers: { "cf-connecting-ip": clientIp, ...extra },
    });

  it("proxies a signed provision to the origin and carries the request id through", async () => {
    const response = await provision("198.51.100.1", { "x-request-id": "nginx-test-req-1" });
    expect(response.status).toBe(200);
    expect(response.headers.get("x-request-id")).toBe("nginx-test-req-1");
    const body = CredentialResponseSchema.parse(await response.json());
    expect(body.credentialPath).toBe(CREDENTIAL.credentialPath);
    expect(body.sealed).toBe(false);
  });

  it("adds the security headers and no-store to credential responses", async () => {
    const response = await provision("198.51.100.2");
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(response.headers.get("x-frame-options")).toBe("DENY");
    expect(response.headers.get("referrer-policy")).toBe("no-referrer");
    expect(response.headers.get("strict-transport-security")).toMatch(/^max-age=\d+/);
    expect(response.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(response.headers.get("server")).toBe("nginx");
  });

  it("never caches a credential response: every request reaches the origin", async () => {
    const before = proxy.count("/v1/credentials/provision");
    const first = await provision("198.51.100.3");
    const second = await provision("198.51.100.3");
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(proxy.count("/v1/credentials/provision")).toBe(before + 2);

    const auditBefore = proxy.count("/v1/audit");
    for (let i = 0; i < 2; i++) {
      const audit = await signedFetch(`${nginx.url}/v1/audit?limit=5`, {
        key,
        owner: OWNER,
        headers: { "cf-connecting-ip": "198.51.100.3" },
      });
      expect(audit.status).toBe(200);
      expect(audit.headers.get("cache-control")).toBe("no-store");
    }
    expect(proxy.count("/v1/audit")).toBe(auditBefore + 2);
  });

  it("micro-caches health checks, unlike credential routes", async () => {
    const before = proxy.count("/healthz");
    for (let i = 0; i < 3; i++) expect((await fetch(`${nginx.url}/healthz`)).status).toBe(200);
    expect(proxy.count("/healthz") - before).toBeLessThanOrEqual(1);
  });

  it("answers an oversize body with 413 problem+json without calling the origin", async () => {
    const before = proxy.count("/v1/credentials/provision");
    const response = await fetch(`${nginx.url}/v1/credentials/provision`, {
      method: "POST",
      headers: { "content-type": "application/json", "cf-connecting-ip": "198.51.100.4" },
      body: JSON.stringify({ ...CREDENTIAL, purpose: "x".repeat(MAX_BODY_BYTES + 1) }),
    });
    expect(response.status).toBe(413);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    const problem = (await response.json()) as { status: number; type: string };
    expect(problem.status).toBe(413);
    expect(problem.type).toMatch(/^https:\/\//);
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(proxy.count("/v1/credentials/provision")).toBe(before);
  });

  it("limits one owner to 100 credential requests a minute while another owner is still served", async () => {
    expect(RATE_LIMIT.perMinute).toBe(100);
    // Every request comes through the tunnel from the same connector and client address.
    const tunnel = { "cf-connecting-ip": "203.0.113.10" };
    const send = (init: Awaited<ReturnType<typeof signedInit>>, url: string) =>
      fetch(url, init).then(async (response) => ({ response, body: await response.text() }));
    // Signed first, then sent at once. On a loaded machine the burst can take longer than one
    // refill (600 ms), so waves follow until nginx refuses one; whatever the pace, nginx may serve
    // the 100 of the burst plus one request per 600 ms elapsed, and not one more.
    const auditUrl = `${nginx.url}/v1/audit?limit=1`;
    const sendWave = async (count: number) => {
      const inits = await Promise.all(
        Array.from({ length: count }, () => signedInit(auditUrl, { key, owner: OWNER_A, headers: tunnel })),
      );
      return Promise.all(inits.map((init) => send(init, auditUrl)));
    };
    const started = Date.now();
    const burst = await sendWave(101);
    for (let wave = 0; wave < 20 && !burst.some(({ response }) => response.status === 429); wave++) {
      burst.push(...(await sendWave(20)));
    }
    const elapsedMs = Date.now() - started;
    const served = burst.filter(({ response }) => response.status === 200);
    const refused = burst.filter(({ response }) => response.status === 429);
    expect(served.length).toBeGreaterThanOrEqual(100);
    expect(served.length).toBeLessThanOrEqual(100 + Math.ceil(elapsedMs / 600));
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(served.length + refused.length).toBe(burst.length);

    const limited = refused[0]?.response as Response;
    expect(limited.headers.get("content-type")).toBe("application/problem+json");
    expect(limited.headers.get("retry-after")).toMatch(/^\d+$/);
    const problem = JSON.parse(refused[0]?.body ?? "") as Record<string, unknown>;
    expect(problem).toMatchObject({ status: 429, title: "Too many requests", code: "rate_limited" });
    expect(typeof problem.type).toBe("string");
    expect(typeof problem.requestId).toBe("string");

    const other = await signedFetch(`${nginx.url}/v1/credentials/provision`, {
      key,
      owner: OWNER_B,
      body: CREDENTIAL,
      headers: tunnel,
    });
    expect(other.status).toBe(200);
    expect(CredentialResponseSchema.parse(await other.json()).credentialPath).toBe(CREDENTIAL.credentialPath);
  });

  it("keeps /metrics and unknown routes off the tunnel with problem+json 404s", async () => {
    for (const path of ["/metrics", "/", "/admin"]) {
      const response = await fetch(`${nginx.url}${path}`);
      expect(response.status, path).toBe(404);
      expect(response.headers.get("content-type")).toBe("application/problem+json");
      expect(((await response.json()) as { status: number }).status).toBe(404);
    }
    expect(proxy.count("/metrics")).toBe(0);
  });

  it("keeps secrets, bearer tokens, signatures and query strings out of the access log", async () => {
    const provisioned = await provision("198.51.100.5", {
      authorization: BEARER,
      "cf-access-client-secret": "access-client-secret-not-for-logs",
    });
    const { value } = (await provisioned.json()) as { value: string };
    const auditUrl = `${nginx.url}/v1/audit?limit=3&token=${QUERY_SECRET}`;
    const init = await signedInit(auditUrl, {
      key,
      owner: OWNER,
      headers: { "cf-connecting-ip": "198.51.100.5", authorization: BEARER },
    });
    const signature = init.headers["x-chitty-signature"] ?? "";
    expect(signature.length).toBeGreaterThan(20);
    expect((await fetch(auditUrl, init)).status).toBe(200);

    // nginx writes the line after the response; give it a moment.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const log = readFileSync(nginx.accessLog, "utf8");
    expect(log).toContain('"path":"/v1/credentials/provision"');
    expect(log).toContain('"client":"198.51.100.5"');
    expect(log).not.toContain("cc_live_bearer-token");
    expect(log).not.toContain("Bearer");
    expect(log).not.toContain(QUERY_SECRET);
    expect(log).not.toContain("access-client-secret-not-for-logs");
    expect(log).not.toContain(value);
    expect(log).not.toContain(signature);
    expect(log).not.toContain("limit=3");
  });
});

describe.skipIf(!nginxBinary)("nginx's global ceiling", () => {
  let dir: string;
  let upstream: Server;
  let nginx: RunningNginx;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "chitty-nginx-global-"));
    // The ceiling is nginx's alone: a bare upstream that answers 200 is enough behind it.
    upstream = createServer((_req, res) => res.end("{}"));
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    const { port } = upstream.address() as AddressInfo;
    nginx = await startNginx(nginxBinary ?? "", dir, { upstream: `127.0.0.1:${port}` });
  });

  afterAll(async () => {
    await nginx?.close();
    upstream?.closeAllConnections();
    await new Promise((resolve) => upstream?.close(resolve));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("limits all owners together once their sum passes the ceiling, each owner within its own share", async () => {
    // One request per owner: no owner's own bucket is near its limit, so every 429 is the ceiling's.
    // On a loaded machine the first wave can take longer than the ceiling needs to refill, so waves
    // follow until nginx refuses one; it may serve the burst plus perSecond per second elapsed.
    let next = 0;
    const sendWave = (count: number) =>
      Promise.all(
        Array.from({ length: count }, () =>
          fetch(`${nginx.url}/v1/audit`, { headers: { "x-chitty-owner": `owner-${next++}` } }).then(
            async (response) => {
              await response.arrayBuffer();
              return response.status;
            },
          ),
        ),
      );
    const started = Date.now();
    const statuses = await sendWave(GLOBAL_RATE_LIMIT.burst + 60);
    for (let wave = 0; wave < 20 && !statuses.includes(429); wave++) statuses.push(...(await sendWave(100)));
    const elapsedMs = Date.now() - started;
    const limited = statuses.filter((status) => status === 429).length;
    const served = statuses.filter((status) => status === 200).length;
    expect(limited).toBeGreaterThan(0);
    expect(served + limited).toBe(statuses.length);
    expect(served).toBeGreaterThanOrEqual(GLOBAL_RATE_LIMIT.burst + 1);
    expect(served).toBeLessThanOrEqual(
      GLOBAL_RATE_LIMIT.burst + 1 + Math.ceil((elapsedMs * GLOBAL_RATE_LIMIT.perSecond) / 1000),
    );
  });
});
