import type { SigningKey } from "@chittyconnect/contract";
import { beforeAll, describe, expect, it } from "vitest";
import { startOrigin } from "../../src/server.ts";
import { signedFetch, signingKey } from "../helpers/signed-fetch.ts";
import { captureLogger, InMemoryCredentials, OWNER, SIGNING_SECRET, testConfig } from "./harness.ts";

/** Audit calls wait until the test releases them, so a request can be held in flight. */
class HeldCredentials extends InMemoryCredentials {
  release: () => void = () => {};
  started: Promise<void>;
  #markStarted: () => void = () => {};

  constructor() {
    super();
    this.started = new Promise((resolve) => {
      this.#markStarted = resolve;
    });
  }

  override async audit(...args: Parameters<InMemoryCredentials["audit"]>) {
    this.#markStarted();
    await new Promise<void>((resolve) => {
      this.release = resolve;
    });
    return super.audit(...args);
  }
}

let key: SigningKey;
beforeAll(async () => {
  key = await signingKey(SIGNING_SECRET);
});

describe("startOrigin", () => {
  it("listens on the configured address and warms the service up at boot", async () => {
    const credentials = new InMemoryCredentials();
    const origin = await startOrigin({ config: testConfig(), logger: captureLogger().logger, credentials });
    try {
      expect(origin.url).toBe(`http://127.0.0.1:${origin.port}`);
      expect(origin.port).toBeGreaterThan(0);
      expect(credentials.warmed).toBe(true);
      expect((await fetch(`${origin.url}/healthz`)).status).toBe(200);
    } finally {
      await origin.close();
    }
  });

  it("closes the service and rejects when the port is taken", async () => {
    const first = await startOrigin({
      config: testConfig(),
      logger: captureLogger().logger,
      credentials: new InMemoryCredentials(),
    });
    const credentials = new InMemoryCredentials();
    try {
      const taken = testConfig({ PORT: String(first.port) });
      await expect(
        startOrigin({ config: taken, logger: captureLogger().logger, credentials }),
      ).rejects.toThrow(/EADDRINUSE/);
      expect(credentials.closed).toBe(true);
    } finally {
      await first.close();
    }
  });

  it("drains an in-flight request on close, then refuses connections and closes the service", async () => {
    const credentials = new HeldCredentials();
    const origin = await startOrigin({ config: testConfig(), logger: captureLogger().logger, credentials });
    const inFlight = signedFetch(`${origin.url}/v1/audit`, { key, owner: OWNER });
    await credentials.started;
    const closed = origin.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(credentials.closed).toBe(false);
    credentials.release();
    const response = await inFlight;
    expect(response.status).toBe(200);
    await closed;
    expect(credentials.closed).toBe(true);
    await expect(fetch(`${origin.url}/healthz`)).rejects.toThrow();
  });

  it("cuts requests that outlive the drain bound", async () => {
    const credentials = new HeldCredentials();
    const origin = await startOrigin({
      config: testConfig(),
      logger: captureLogger().logger,
      credentials,
      drainTimeoutMs: 200,
    });
    const inFlight = signedFetch(`${origin.url}/v1/audit`, { key, owner: OWNER });
    await credentials.started;
    const started = performance.now();
    await origin.close();
    expect(performance.now() - started).toBeLessThan(2000);
    await expect(inFlight).rejects.toThrow();
    expect(credentials.closed).toBe(true);
    credentials.release();
  });
});
