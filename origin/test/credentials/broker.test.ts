import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { ProblemError, parseCredentialPath } from "@chittyconnect/contract";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type RunningConnectServer, startConnectServer } from "../../../dev/src/connect/server.ts";
import { CredentialBroker } from "../../src/credentials/broker.ts";
import { createMetrics, type OriginMetrics } from "../../src/metrics.ts";
import {
  CONNECT_TOKEN,
  closedPortUrl,
  type LocalServer,
  silentLogger,
  startCountingProxy,
  startSilentServer,
} from "./connect-harness.ts";

const path = (text: string) => {
  const parsed = parseCredentialPath(text);
  if (!parsed) throw new Error(`bad test path ${text}`);
  return parsed;
};

function broker(
  host: string,
  options: { token?: string; timeoutMs?: number; ttl?: number; metrics?: OriginMetrics } = {},
) {
  return new CredentialBroker({
    host,
    token: options.token ?? CONNECT_TOKEN,
    timeoutMs: options.timeoutMs ?? 1000,
    titleCacheTtlSeconds: options.ttl ?? 30,
    metrics: options.metrics ?? createMetrics(),
    logger: silentLogger(),
  });
}

async function counterValue(metrics: OriginMetrics, labels: Record<string, string>): Promise<number> {
  const { values } = await metrics.titleCacheLookups.get();
  return values
    .filter((v) => Object.entries(labels).every(([key, value]) => v.labels[key as "kind"] === value))
    .reduce((sum, v) => sum + v.value, 0);
}

const problemOf = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error("expected a ProblemError");
    },
    (error: unknown) => {
      if (!(error instanceof ProblemError)) throw error;
      return error;
    },
  );

let connect: RunningConnectServer;
const extra: LocalServer[] = [];

beforeAll(async () => {
  connect = await startConnectServer({ port: 0, token: CONNECT_TOKEN });
});
afterAll(async () => {
  await connect.close();
});
afterEach(async () => {
  await Promise.all(extra.splice(0).map((server) => server.close()));
});

describe("reading credentials by title", () => {
  it.each([
    ["services/chittyid/service_token", "dev-chittyid-service-token-7f3c9a41"],
    ["services/chittyrouter+beta/api_key", "dev-chittyrouter-plus-beta-5c0d"],
    ["services/chittyrouter beta/api_key", "dev-chittyrouter-space-beta-91ae"],
    ['services/chittyid "legacy"/service_token', "dev-chittyid-legacy-token-0e6f"],
    ["infrastructure/database/password", "dev-database-password-not-secret-51c7"],
  ])("%s", async (text, value) => {
    expect(await broker(connect.url).read(path(text))).toMatchObject({ value });
  });

  it("resolves a 26-character title by title even though another item has that id", async () => {
    const result = await broker(connect.url).read(path("services/abcdefghijklmnopqrstuvwxyz/api_key"));
    expect(result.value).toBe("dev-id-looking-title-4d27");
  });

  it("falls back to ids only when no vault or item has that title", async () => {
    const byId = await broker(connect.url).read(
      path("a3szkwc3qjcez3b4djjrhp4n6q/ok7dfqy6arvsuwoqbuvsc2vqv5/service_token"),
    );
    expect(byId.value).toBe("dev-chittyid-service-token-7f3c9a41");
    const problem = await problemOf(
      broker(connect.url).read(path("services/zzzzzzzzzzzzzzzzzzzzzzzzzz/api_key")),
    );
    expect(problem).toMatchObject({ status: 404, code: "credential_not_found" });
  });

  it("refuses an ambiguous title instead of guessing", async () => {
    const problem = await problemOf(broker(connect.url).read(path("services/chittychat/bot_token")));
    expect(problem).toMatchObject({ status: 409, code: "ambiguous_title" });
  });

  it.each([
    "nowhere/chittyid/service_token",
    "services/nothing/service_token",
    "services/chittyid/no_such_field",
  ])("answers 404 credential_not_found for %s", async (text) => {
    const problem = await problemOf(broker(connect.url).read(path(text)));
    expect(problem).toMatchObject({ status: 404, code: "credential_not_found" });
    expect(problem.detail).toBe("No credential exists at that path.");
  });

  it("matches a field by id when no label matches", async () => {
    const b = broker(connect.url);
    expect((await b.read(path("services/chittyauth/qdtiichclyoio65p2pejtbcyu5"))).value).toBe(
      "dev-chittyauth-api-key-2b8e51d0",
    );
    expect((await b.read(path("infrastructure/database/hostname"))).value).toBe("127.0.0.1");
  });
});

describe("title cache", () => {
  it("serves repeat look-ups from the cache (observable in metrics and at Connect)", async () => {
    const proxy = await startCountingProxy(connect.url);
    extra.push(proxy);
    const metrics = createMetrics();
    const b = broker(proxy.url, { metrics });
    await b.read(path("services/chittyauth/api_key"));
    await b.read(path("services/chittyauth/api_key"));
    expect(await counterValue(metrics, { kind: "item", result: "miss" })).toBe(1);
    expect(await counterValue(metrics, { kind: "item", result: "hit" })).toBe(1);
    expect(await counterValue(metrics, { kind: "vault", result: "hit" })).toBe(1);
    expect(proxy.requests.filter((r) => r.includes("filter=")).length).toBe(2);
  });

  it("coalesces concurrent identical look-ups into one Connect call", async () => {
    const proxy = await startCountingProxy(connect.url);
    extra.push(proxy);
    const metrics = createMetrics();
    const b = broker(proxy.url, { metrics });
    const results = await Promise.all(
      Array.from({ length: 10 }, () => b.read(path("services/chittyid/service_token"))),
    );
    expect(new Set(results.map((r) => r.value))).toEqual(new Set(["dev-chittyid-service-token-7f3c9a41"]));
    expect(proxy.requests.filter((r) => r.startsWith("GET /v1/vaults?filter=")).length).toBe(1);
    expect(proxy.requests.filter((r) => r.includes("/items?filter=")).length).toBe(1);
    expect(await counterValue(metrics, { kind: "vault", result: "coalesced" })).toBe(9);
  });

  it("encodes the title filter so + and quotes reach Connect intact", async () => {
    const proxy = await startCountingProxy(connect.url);
    extra.push(proxy);
    await broker(proxy.url).read(path('services/chittyid "legacy"/service_token'));
    const lookup = proxy.requests.find((r) => r.includes("/items?filter="));
    expect(lookup).toContain(encodeURIComponent('title eq "chittyid \\"legacy\\""'));
  });

  it("does not cache with a TTL of 0", async () => {
    const proxy = await startCountingProxy(connect.url);
    extra.push(proxy);
    const b = broker(proxy.url, { ttl: 0 });
    await b.read(path("services/chittyauth/api_key"));
    await b.read(path("services/chittyauth/api_key"));
    expect(proxy.requests.filter((r) => r.includes("/items?filter=")).length).toBe(2);
  });
});

describe("Connect failures", () => {
  it("maps a closed port to 503 connect_unavailable with Retry-After", async () => {
    const problem = await problemOf(
      broker(await closedPortUrl()).read(path("services/chittyid/service_token")),
    );
    expect(problem).toMatchObject({ status: 503, code: "connect_unavailable" });
    expect(problem.headers["retry-after"]).toBe("5");
  });

  it("maps a Connect that never answers to 504 connect_timeout", async () => {
    const silent = await startSilentServer();
    extra.push(silent);
    const started = Date.now();
    const problem = await problemOf(
      broker(silent.url, { timeoutMs: 200 }).read(path("services/chittyid/service_token")),
    );
    expect(problem).toMatchObject({ status: 504, code: "connect_timeout" });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("maps a rejected token to 502 connect_rejected", async () => {
    const problem = await problemOf(
      broker(connect.url, { token: "wrong" }).read(path("services/chittyid/service_token")),
    );
    expect(problem).toMatchObject({ status: 502, code: "connect_rejected" });
  });

  it("maps a Connect 500 to 502 connect_error", async () => {
    const failing = createServer((_, response) => {
      response.writeHead(500, { "content-type": "application/json" });
      response.end(JSON.stringify({ status: 500, message: "internal" }));
    });
    await new Promise<void>((resolve) => failing.listen(0, "127.0.0.1", resolve));
    const { port } = failing.address() as AddressInfo;
    try {
      const problem = await problemOf(
        broker(`http://127.0.0.1:${port}`).read(path("services/chittyid/service_token")),
      );
      expect(problem).toMatchObject({ status: 502, code: "connect_error" });
    } finally {
      failing.closeAllConnections();
      await new Promise((resolve) => failing.close(resolve));
    }
  });

  it("times every Connect call into the metrics", async () => {
    const metrics = createMetrics();
    await broker(connect.url, { metrics }).read(path("services/chittyauth/api_key"));
    const { values } = await metrics.connectDuration.get();
    const operations = values
      .filter((v) => v.metricName?.endsWith("_count") && v.value > 0)
      .map((v) => v.labels.operation);
    expect(new Set(operations)).toEqual(new Set(["find_vault", "find_item", "get_item"]));
  });
});

describe("rotation", () => {
  it("replaces the field with a value Connect generates and later reads return it", async () => {
    const b = broker(connect.url);
    const before = await b.read(path("integrations/github/webhook_secret"));
    const rotated = await b.rotate(path("integrations/github/webhook_secret"));
    expect(rotated.value).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(rotated.value).not.toBe(before.value);
    expect((await broker(connect.url).read(path("integrations/github/webhook_secret"))).value).toBe(
      rotated.value,
    );
    expect((await b.read(path("integrations/github/token"))).value).toBe("dev-github-token-b71c");
  });

  it("serialises concurrent rotations of one item so every caller gets a value that was current", async () => {
    const b = broker(connect.url);
    const target = path("services/chittyauth/api_key");
    const values = await Promise.all([b.rotate(target), b.rotate(target), b.rotate(target)]);
    expect(new Set(values.map((v) => v.value)).size).toBe(3);
    const versions = values.map((v) => v.version ?? 0);
    expect([...versions].sort((x, y) => x - y)).toEqual(versions);
    expect((await b.read(target)).value).toBe(values[2]!.value);
  });
});

describe("readiness and warm-up", () => {
  it("reports unsynced until the first authenticated request, then synced", async () => {
    const fresh = await startConnectServer({ port: 0, token: CONNECT_TOKEN });
    try {
      const b = broker(fresh.url);
      expect(await b.readiness()).toMatchObject({
        status: "unready",
        connect: { reachable: true, synced: false },
      });
      await b.warmUp();
      const ready = await b.readiness();
      expect(ready).toMatchObject({ status: "ready", connect: { reachable: true, synced: true } });
      expect(ready.connect.latencyMs).toBeGreaterThanOrEqual(0);
    } finally {
      await fresh.close();
    }
  });

  it("reports unreachable without throwing, and warm-up never throws", async () => {
    const b = broker(await closedPortUrl());
    expect(await b.readiness()).toMatchObject({
      status: "unready",
      connect: { reachable: false, synced: false },
    });
    await expect(b.warmUp()).resolves.toBeUndefined();
  });
});

describe("malformed titles", () => {
  it("answers 404 for a title with an unpaired surrogate without asking Connect", async () => {
    const proxy = await startCountingProxy(connect.url);
    extra.push(proxy);
    const problem = await problemOf(
      broker(proxy.url).read({ vault: "services", item: "bad\ud800", field: "api_key" }),
    );
    expect(problem).toMatchObject({ status: 404, code: "credential_not_found" });
    expect(proxy.requests.filter((r) => r.includes("/items?"))).toEqual([]);
  });
});
