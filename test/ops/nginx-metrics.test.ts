import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderComposeNginxConfig } from "../../nginx/compose-config.ts";
import { type RunningOrigin, startOrigin } from "../../origin/src/server.ts";
import { captureLogger, InMemoryCredentials, testConfig } from "../../origin/test/http/harness.ts";
import { freePort } from "../support/ports.ts";
import { findNginx, type RunningNginx, startNginx } from "./nginx-harness.ts";

const nginxBinary = findNginx();
if (!nginxBinary) console.warn("nginx metrics tests skipped: no nginx binary (apt-get install -y nginx)");

/** GET from a chosen loopback source address, as a peer on another network would connect. */
function get(url: string, localAddress: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; body: string; type: string | undefined }>((resolve, reject) => {
    const req = request(url, { localAddress, headers }, (res) => {
      let body = "";
      res.on("data", (chunk: Buffer) => {
        body += chunk.toString();
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body, type: res.headers["content-type"] }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe.skipIf(!nginxBinary)("nginx's metrics listener (how Prometheus scrapes the origin)", () => {
  let dir: string;
  let origin: RunningOrigin;
  let nginx: RunningNginx;
  let metricsUrl: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "chitty-nginx-metrics-"));
    origin = await startOrigin({
      config: testConfig(),
      credentials: new InMemoryCredentials(),
      logger: captureLogger().logger,
    });
    const metricsPort = await freePort();
    // 127.0.0.2 plays the metrics network; 127.0.0.1 plays the tunnel's connector (trusted to
    // name a client in CF-Connecting-IP on the API listener).
    nginx = await startNginx(nginxBinary ?? "", dir, {
      upstream: new URL(origin.url).host,
      trustedProxies: ["127.0.0.1"],
      metrics: { listenPort: metricsPort, allow: ["127.0.0.2"] },
    });
    metricsUrl = `http://127.0.0.1:${metricsPort}`;
  });

  afterAll(async () => {
    await nginx?.close();
    await origin?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("serves the origin's Prometheus text to the metrics network", async () => {
    const answer = await get(`${metricsUrl}/metrics`, "127.0.0.2");
    expect(answer.status).toBe(200);
    expect(answer.type).toMatch(/^text\/plain/);
    expect(answer.body).toMatch(/^# HELP /m);
  });

  it("refuses every other peer, also one that names an allowed address in CF-Connecting-IP", async () => {
    expect((await get(`${metricsUrl}/metrics`, "127.0.0.1")).status).toBe(403);
    const spoofed = await get(`${metricsUrl}/metrics`, "127.0.0.1", { "CF-Connecting-IP": "127.0.0.2" });
    expect(spoofed.status).toBe(403);
  });

  it("serves nothing else on the metrics port, and still no /metrics through the tunnel's listener", async () => {
    expect((await get(`${metricsUrl}/healthz`, "127.0.0.2")).status).toBe(404);
    expect((await get(`${metricsUrl}/v1/audit`, "127.0.0.2")).status).toBe(404);
    const viaApi = await get(`${nginx.url}/metrics`, "127.0.0.2");
    expect(viaApi.status).toBe(404);
    expect(viaApi.type).toBe("application/problem+json");
  });

  it("is what the compose nginx.conf runs: port 9145, the metrics network only", () => {
    const config = renderComposeNginxConfig();
    expect(config).toMatch(
      /listen 9145;\n\s+server_name _;\n\s+access_log off;\n\s+real_ip_header proxy_protocol;\n\s+allow 172\.30\.55\.0\/24;\n\s+deny all;/,
    );
  });
});
