import { mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  IdempotencyStore,
  IdempotencyStoreFullError,
  idempotencyDbFile,
  PENDING_STALE_MS,
} from "../../src/idempotency/store.ts";

const DAY_S = 86_400;
const open: IdempotencyStore[] = [];
afterEach(() => {
  for (const store of open.splice(0)) store.close();
});

function fresh(options: { maxKeys?: number; file?: string } = {}) {
  const clock = { now: Date.parse("2026-11-29T00:00:00Z") };
  const file = options.file ?? join(mkdtempSync(join(tmpdir(), "idem-")), "audit", "idempotency.sqlite");
  const store = IdempotencyStore.open(file, {
    ttlSeconds: DAY_S,
    maxKeys: options.maxKeys ?? 1000,
    now: () => clock.now,
  });
  open.push(store);
  return { store, clock, file };
}

const A = { owner: "01-C-TEST-0001-P-2501-A-X", key: "key-aaaaaaaa" };

describe("IdempotencyStore", () => {
  it("claims a new key, answers in_progress while it runs, then replays its version", () => {
    const { store } = fresh();
    expect(store.claim(A, "fp-1")).toEqual({ kind: "claimed" });
    expect(store.claim(A, "fp-1")).toEqual({ kind: "in_progress" });
    store.complete(A, 7);
    expect(store.claim(A, "fp-1")).toEqual({ kind: "replay", version: 7 });
  });

  it("refuses the key for another body, while running and after", () => {
    const { store } = fresh();
    store.claim(A, "fp-1");
    expect(store.claim(A, "fp-2")).toEqual({ kind: "mismatch" });
    store.complete(A, 1);
    expect(store.claim(A, "fp-2")).toEqual({ kind: "mismatch" });
  });

  it("scopes keys per owner", () => {
    const { store } = fresh();
    store.claim(A, "fp-1");
    expect(store.claim({ ...A, owner: "01-C-TEST-0002-P-2501-A-X" }, "fp-2")).toEqual({ kind: "claimed" });
  });

  it("frees a released key, so a failed request can be retried", () => {
    const { store } = fresh();
    store.claim(A, "fp-1");
    store.release(A);
    expect(store.size).toBe(0);
    expect(store.claim(A, "fp-1")).toEqual({ kind: "claimed" });
  });

  it("forgets a finished key after the TTL, and a pending one left by a dead process after PENDING_STALE_MS", () => {
    const { store, clock } = fresh();
    store.claim(A, "fp-1");
    store.complete(A, 3);
    clock.now += DAY_S * 1000 - 1;
    expect(store.claim(A, "fp-2")).toEqual({ kind: "mismatch" });
    clock.now += 1;
    expect(store.claim(A, "fp-2")).toEqual({ kind: "claimed" });

    clock.now += PENDING_STALE_MS - 1;
    expect(store.claim(A, "fp-2")).toEqual({ kind: "in_progress" });
    clock.now += 1;
    expect(store.claim(A, "fp-2")).toEqual({ kind: "claimed" });
  });

  it("is bounded: when full it refuses new keys until expired ones are pruned", () => {
    const { store, clock } = fresh({ maxKeys: 100 });
    for (let i = 0; i < 100; i++) {
      store.claim({ ...A, key: `key-${String(i).padStart(8, "0")}` }, "fp");
      store.complete({ ...A, key: `key-${String(i).padStart(8, "0")}` }, i);
    }
    expect(() => store.claim({ ...A, key: "one-too-many" }, "fp")).toThrow(IdempotencyStoreFullError);
    // Known keys still answer while full.
    expect(store.claim({ ...A, key: "key-00000042" }, "fp")).toEqual({ kind: "replay", version: 42 });
    clock.now += DAY_S * 1000;
    expect(store.claim({ ...A, key: "one-too-many" }, "fp")).toEqual({ kind: "claimed" });
    expect(store.size).toBe(1);
  });

  it("survives closing and reopening the file, which is private to its owner", () => {
    const first = fresh();
    first.store.claim(A, "fp-1");
    first.store.complete(A, 12);
    first.store.close();
    const second = fresh({ file: first.file });
    expect(second.store.claim(A, "fp-1")).toEqual({ kind: "replay", version: 12 });
    expect(statSync(first.file).mode & 0o777).toBe(0o600);
  });

  it("lives beside the audit log unless IDEMPOTENCY_DB_FILE says otherwise", () => {
    expect(idempotencyDbFile({ AUDIT_LOG_FILE: "/var/lib/audit/audit.log" })).toBe(
      "/var/lib/audit/idempotency.sqlite",
    );
    expect(idempotencyDbFile({ AUDIT_LOG_FILE: "a/audit.log", IDEMPOTENCY_DB_FILE: "/data/k.db" })).toBe(
      "/data/k.db",
    );
  });
});
