import { NonceStoreUnavailableError } from "@chittyconnect/contract";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../../test/support/ports.ts";
import { findRedisServer, type RunningRedis, startRedis } from "../../../test/support/redis.ts";
import { RedisNonceStore } from "../../src/replay/redis-store.ts";
import { captureLogger } from "../http/harness.ts";

const redisBinary = findRedisServer();
if (!redisBinary)
  console.warn("Redis nonce store tests skipped: no redis-server (apt-get install -y redis-server)");

describe.skipIf(!redisBinary)("RedisNonceStore against a real redis-server", () => {
  let redis: RunningRedis;
  const stores: RedisNonceStore[] = [];
  const log = captureLogger();
  const open = async (commandTimeoutMs?: number) => {
    const store = await RedisNonceStore.connect({
      url: redis.url,
      logger: log.logger,
      ...(commandTimeoutMs === undefined ? {} : { commandTimeoutMs }),
    });
    stores.push(store);
    return store;
  };

  beforeAll(async () => {
    redis = await startRedis(redisBinary ?? "");
  });
  afterAll(async () => {
    for (const store of stores) store.close();
    await redis?.stop();
  });

  it("remembers a nonce once across two replicas' connections", async () => {
    const [replicaA, replicaB] = [await open(), await open()];
    const now = Date.now();
    const nonce = `nonce-${crypto.randomUUID()}`;
    expect(await replicaA.remember(nonce, now + 60_000, now)).toBe(true);
    expect(await replicaB.remember(nonce, now + 60_000, now)).toBe(false);
    expect(await replicaA.remember(nonce, now + 60_000, now)).toBe(false);
  });

  it("lets the server forget a nonce when its window ends", async () => {
    const store = await open();
    const now = Date.now();
    const nonce = `nonce-${crypto.randomUUID()}`;
    expect(await store.remember(nonce, now + 50, now)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(await store.remember(nonce, Date.now() + 50, Date.now())).toBe(true);
  });

  it("refuses (never accepts) while the server is frozen, and recovers when it answers again", async () => {
    const store = await open(200);
    redis.freeze();
    try {
      const now = Date.now();
      await expect(store.remember(`nonce-${crypto.randomUUID()}`, now + 60_000, now)).rejects.toBeInstanceOf(
        NonceStoreUnavailableError,
      );
    } finally {
      redis.thaw();
    }
    // The frozen command timed out; the connection itself is still good.
    const deadline = Date.now() + 5000;
    let answered = false;
    while (!answered && Date.now() < deadline) {
      answered = await store.remember(`nonce-${crypto.randomUUID()}`, Date.now() + 60_000, Date.now()).then(
        () => true,
        () => false,
      );
    }
    expect(answered).toBe(true);
  });

  it("fails the start with a message that leaves the URL's password out", async () => {
    const port = await freePort();
    const capture = captureLogger();
    const attempt = RedisNonceStore.connect({
      url: `redis://:hunter2-redis-password@127.0.0.1:${port}`,
      logger: capture.logger,
    });
    const error = await attempt.then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.message).toMatch(/cannot reach the nonce store at REDIS_URL/);
    expect(error?.message).not.toContain("hunter2");
    expect(JSON.stringify(capture.lines())).not.toContain("hunter2");
  });
});
