import {
  Headers,
  MemoryNonceStore,
  type NonceStore,
  NonceStoreUnavailableError,
  type SigningKey,
} from "@chittyconnect/contract";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOriginApp } from "../../src/app.ts";
import { createMetrics } from "../../src/metrics.ts";
import { signedFetch, signedInit, signingKey } from "../helpers/signed-fetch.ts";
import {
  captureLogger,
  InMemoryCredentials,
  OWNER,
  PREVIOUS_SECRET,
  PROVISION_BODY,
  SIGNING_SECRET,
  startTestOrigin,
  type TestOrigin,
  testConfig,
} from "./harness.ts";

let origin: TestOrigin;
let key: SigningKey;
let previousKey: SigningKey;

beforeAll(async () => {
  origin = await startTestOrigin({
    EDGE_SIGNING_KEY_PREVIOUS: PREVIOUS_SECRET,
    SIGNATURE_WINDOW_SECONDS: "30",
  });
  key = await signingKey(SIGNING_SECRET);
  previousKey = await signingKey(PREVIOUS_SECRET);
});
afterAll(() => origin.close());

const provisionUrl = () => `${origin.url}/v1/credentials/provision`;

async function expectUnauthenticated(response: Response, reason: string): Promise<void> {
  expect(response.status).toBe(401);
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  const problem = (await response.json()) as Record<string, unknown>;
  expect(problem).toMatchObject({
    status: 401,
    code: "unauthenticated",
    detail: "The request could not be authenticated.",
  });
  const requestId = response.headers.get(Headers.requestId);
  expect(problem.requestId).toBe(requestId);
  const logged = origin
    .logs()
    .find((line) => line.requestId === requestId && line.msg === "request signature rejected");
  expect(logged).toMatchObject({ level: 40, reason });
}

describe("edge request signatures", () => {
  it("accepts a correctly signed request and passes the signed owner on", async () => {
    const response = await signedFetch(provisionUrl(), { key, owner: OWNER, body: PROVISION_BODY });
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const body = (await response.json()) as { value: string };
    expect(body.value).toBe(origin.credentials.value);
    expect(origin.credentials.entries.at(-1)?.owner).toBe(OWNER);
  });

  it("rejects an unsigned request", async () => {
    const response = await fetch(provisionUrl(), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(PROVISION_BODY),
    });
    await expectUnauthenticated(response, "missing_headers");
  });

  it("rejects a request whose method differs from the signed one", async () => {
    const init = await signedInit(provisionUrl(), { key, owner: OWNER, method: "PUT", body: PROVISION_BODY });
    await expectUnauthenticated(await fetch(provisionUrl(), { ...init, method: "POST" }), "bad_signature");
  });

  it("rejects a request sent to another path than the signed one", async () => {
    const init = await signedInit(`${origin.url}/v1/credentials/rotate`, {
      key,
      owner: OWNER,
      body: PROVISION_BODY,
    });
    await expectUnauthenticated(await fetch(provisionUrl(), init), "bad_signature");
  });

  it("rejects a request whose query string was changed", async () => {
    const init = await signedInit(`${origin.url}/v1/audit?limit=5`, { key, owner: OWNER });
    await expectUnauthenticated(await fetch(`${origin.url}/v1/audit?limit=500`, init), "bad_signature");
  });

  it("rejects a request whose body was changed", async () => {
    const init = await signedInit(provisionUrl(), { key, owner: OWNER, body: PROVISION_BODY });
    const tampered = JSON.stringify({ ...PROVISION_BODY, purpose: "something else" });
    await expectUnauthenticated(await fetch(provisionUrl(), { ...init, body: tampered }), "body_mismatch");
  });

  it("rejects a request whose owner header was changed", async () => {
    const init = await signedInit(provisionUrl(), { key, owner: OWNER, body: PROVISION_BODY });
    init.headers[Headers.owner] = "01-C-TEST-9999-P-2501-A-X";
    await expectUnauthenticated(await fetch(provisionUrl(), init), "bad_signature");
  });

  it("rejects a request whose timestamp header was changed", async () => {
    const init = await signedInit(provisionUrl(), { key, owner: OWNER, body: PROVISION_BODY });
    init.headers[Headers.timestamp] = String(Number(init.headers[Headers.timestamp]) - 1);
    await expectUnauthenticated(await fetch(provisionUrl(), init), "bad_signature");
  });

  it("rejects a replayed nonce", async () => {
    const init = await signedInit(provisionUrl(), { key, owner: OWNER, body: PROVISION_BODY });
    expect((await fetch(provisionUrl(), init)).status).toBe(200);
    await expectUnauthenticated(await fetch(provisionUrl(), init), "replayed_nonce");
  });

  it.each([
    ["past", -31_000],
    ["future", 31_000],
  ])("rejects a timestamp beyond the window in the %s", async (_direction, skewMs) => {
    const response = await signedFetch(provisionUrl(), {
      key,
      owner: OWNER,
      body: PROVISION_BODY,
      now: Date.now() + skewMs,
    });
    await expectUnauthenticated(response, "stale_timestamp");
  });

  // Ahead, because this origin started moments ago: a timestamp 20 s behind predates its start
  // (the contract's window test covers both directions; the restart tests below cover this one).
  it("accepts a timestamp skewed within the window", async () => {
    const response = await signedFetch(provisionUrl(), {
      key,
      owner: OWNER,
      body: PROVISION_BODY,
      now: Date.now() + 20_000,
    });
    expect(response.status).toBe(200);
  });

  it("accepts the previous key during a rotation", async () => {
    const response = await signedFetch(provisionUrl(), {
      key: previousKey,
      owner: OWNER,
      body: PROVISION_BODY,
    });
    expect(response.status).toBe(200);
  });

  it("rejects a key it does not know", async () => {
    const stranger = await signingKey("some-other-edge-secret-that-nobody-configured");
    const response = await signedFetch(provisionUrl(), { key: stranger, owner: OWNER, body: PROVISION_BODY });
    await expectUnauthenticated(response, "unknown_key");
  });

  it("never logs the signature header", () => {
    const signatures = origin.logs().filter((line) => JSON.stringify(line).includes(Headers.signature));
    expect(signatures).toEqual([]);
  });
});

describe("services in the signed hop", () => {
  it("passes the token's signed services to the credential service", async () => {
    const response = await signedFetch(provisionUrl(), {
      key,
      owner: OWNER,
      services: ["billing", "chittyid"],
      body: PROVISION_BODY,
    });
    expect(response.status).toBe(200);
    expect(origin.credentials.callers.at(-1)?.services).toEqual(["billing", "chittyid"]);
  });

  it.each([
    ["widened to every service", "*"],
    ["with a service added", "billing,chittyid,zz"],
    ["replaced", "billing"],
  ])("rejects a services header %s", async (_how, value) => {
    const init = await signedInit(provisionUrl(), {
      key,
      owner: OWNER,
      services: ["billing", "chittyid"],
      body: PROVISION_BODY,
    });
    init.headers[Headers.services] = value;
    await expectUnauthenticated(await fetch(provisionUrl(), init), "bad_signature");
  });

  it("rejects a services header added to a request signed without one", async () => {
    const init = await signedInit(provisionUrl(), { key, owner: OWNER, services: [], body: PROVISION_BODY });
    expect(init.headers[Headers.services]).toBeUndefined();
    init.headers[Headers.services] = "chittyid";
    await expectUnauthenticated(await fetch(provisionUrl(), init), "bad_signature");
  });

  it("rejects a services header that is not a canonical list", async () => {
    const init = await signedInit(provisionUrl(), { key, owner: OWNER, body: PROVISION_BODY });
    init.headers[Headers.services] = "chittyid,billing";
    await expectUnauthenticated(await fetch(provisionUrl(), init), "malformed_headers");
  });
});

describe("replay protection across a restart", () => {
  const target = "http://origin.internal/v1/audit";
  const app = (now: () => number, skew: string, nonces: NonceStore = new MemoryNonceStore()) =>
    createOriginApp({
      config: testConfig({ SIGNATURE_WINDOW_SECONDS: "30", CLOCK_SKEW_MS: skew }),
      logger: captureLogger().logger,
      metrics: createMetrics(),
      credentials: new InMemoryCredentials(),
      nonces,
      now,
    });

  it("a request accepted before a restart is refused by the restarted process", async () => {
    let clock = Date.now();
    const init = await signedInit(target, { key, owner: OWNER, now: clock });
    const before = await app(() => clock, "0");
    expect((await before.request(target, init)).status).toBe(200);
    clock += 5000;
    const restarted = await app(() => clock, "0");
    const replayed = await restarted.request(target, init);
    expect(replayed.status).toBe(503);
    expect(replayed.headers.get("retry-after")).toBe("1");
    expect(((await replayed.json()) as { code: string }).code).toBe("origin_starting");
  });

  it("with the edge's clock ahead, refuses for the skew after start and serves afterwards", async () => {
    const startedAt = Date.now();
    let clock = startedAt;
    const restarted = await app(() => clock, "2000");
    // The edge runs 1.5 s ahead: this request may have reached the predecessor just before it stopped.
    const early = await signedInit(target, { key, owner: OWNER, now: startedAt + 1500 });
    expect((await restarted.request(target, early)).status).toBe(503);
    clock = startedAt + 2500;
    const later = await signedInit(target, { key, owner: OWNER, now: startedAt + 2000 });
    expect((await restarted.request(target, later)).status).toBe(200);
  });

  it("answers 503 with Retry-After when the shared nonce store cannot answer", async () => {
    const failing: NonceStore = {
      remember: () => Promise.reject(new NonceStoreUnavailableError("down")),
    };
    const clock = Date.now();
    const served = await app(() => clock, "0", failing);
    const response = await served.request(
      target,
      await signedInit(target, { key, owner: OWNER, now: clock }),
    );
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("2");
    expect(((await response.json()) as { code: string }).code).toBe("replay_store_unavailable");
  });
});
