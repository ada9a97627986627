import {
  createExecutionContext,
  createScheduledController,
  env,
  listDurableObjectIds,
  runDurableObjectAlarm,
  waitOnExecutionContext,
} from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker, { app } from "../src/index.ts";
import { snapshotKey } from "../src/sessions/kv-store.ts";
import { backupKey, backupSessions, LAST_BACKUP_KEY } from "../src/sessions/scheduled.ts";
import type { Session, Snapshot } from "../src/sessions/schemas.ts";
import { FALLBACK_HEADER, SNAPSHOT_AT_HEADER } from "../src/sessions/store.ts";
import type { StatusReport } from "../src/status/routes.ts";
import { BASE, bearer, jsonInit } from "./helpers.ts";
import { expectProblem, json, makeDue, newOwner, stubOf } from "./sessions-helpers.ts";

type Bindings = typeof env;

function via(bindings: Bindings, token: string) {
  const send = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    app.fetch(
      new Request(
        `${BASE}${path}`,
        body === undefined
          ? { method, headers: { ...bearer(token), ...headers } }
          : jsonInit(method, body, { ...bearer(token), ...headers }),
      ),
      bindings,
      createExecutionContext(),
    );
  return {
    send,
    get: (path: string, headers: Record<string, string> = {}) => send("GET", path, undefined, headers),
  };
}

const kvMode: Bindings = { ...env, ENABLE_DURABLE_OBJECTS: "false" };

/** A namespace whose objects cannot be reached: every RPC call fails as a network error would. */
const unreachable = {
  idFromName: (name: string) => env.SESSIONS.idFromName(name),
  get: () =>
    new Proxy(
      {},
      {
        get: () => async () => {
          throw new Error("Network connection lost.");
        },
      },
    ),
} as unknown as Bindings["SESSIONS"];

async function snapshotNow(owner: string) {
  await makeDue(owner, ["snapshot_due"]);
  expect(await runDurableObjectAlarm(stubOf(owner))).toBe(true);
}

describe("ENABLE_DURABLE_OBJECTS=false: the KV store", () => {
  it("serves the same API from KV, without creating an object", async () => {
    const a = await newOwner();
    const kv = via(kvMode, a.token);
    const created = await json<Session>(
      await kv.send("POST", "/api/v1/sessions", { id: "k1", metadata: { m: 1 } }),
      201,
    );
    expect(created).toMatchObject({ id: "k1", version: 1 });
    await expectProblem(await kv.send("POST", "/api/v1/sessions", { id: "k1" }), 409, "session_exists");
    await kv.send("POST", "/api/v1/sessions/k1/messages", { role: "user", content: "Title from KV" });
    const patched = await kv.send(
      "PATCH",
      "/api/v1/sessions/k1",
      { status: "closed" },
      { "if-match": '"2"' },
    );
    expect(await json<Session>(patched, 200)).toMatchObject({
      title: "Title from KV",
      version: 3,
      status: "closed",
    });
    await expectProblem(
      await kv.send("PATCH", "/api/v1/sessions/k1", { status: "active" }, { "if-match": '"2"' }),
      412,
      "version_mismatch",
    );
    await kv.send("PUT", "/api/v1/context/c", { value: true });
    await kv.send("POST", "/api/v1/decisions", {
      type: "t",
      reasoning: "r",
      confidence: 0.1,
      sessionId: "k1",
    });
    const exported = await json<Snapshot>(await kv.get("/api/v1/sessions/export"), 200);
    expect(exported.sessions[0]?.messages).toHaveLength(1);
    expect(exported.context).toHaveLength(1);
    expect(exported.decisions).toHaveLength(1);
    const stored = await env.SESSIONS_KV.getWithMetadata<{ updatedAt: number }>(snapshotKey(a.owner));
    expect(stored.value).toContain("Title from KV");
    expect(stored.metadata?.updatedAt).toBeGreaterThan(0);
    const ids = await listDurableObjectIds(env.SESSIONS);
    expect(ids.some((id) => id.equals(env.SESSIONS.idFromName(a.owner)))).toBe(false);
    expect((await kv.send("DELETE", "/api/v1/sessions/k1")).status).toBe(204);
    await expectProblem(await kv.get("/api/v1/sessions/k1"), 404, "session_not_found");
  });

  it("answers WebSockets and tickets with 503 naming the flag", async () => {
    const a = await newOwner();
    const kv = via(kvMode, a.token);
    const socket = await expectProblem(
      await kv.get("/api/v1/sessions/ws", { upgrade: "websocket" }),
      503,
      "websockets_disabled",
    );
    expect(socket.detail).toContain("durableObjects");
    await expectProblem(await kv.send("POST", "/api/v1/sessions/ws-ticket"), 503, "websockets_disabled");
  });

  it("drops sessions past their expiry when the snapshot is read", async () => {
    const a = await newOwner();
    const kv = via(kvMode, a.token);
    await kv.send("POST", "/api/v1/sessions", { id: "old" });
    const snapshot = JSON.parse((await env.SESSIONS_KV.get(snapshotKey(a.owner))) ?? "") as Snapshot;
    snapshot.sessions[0]!.expiresAt = new Date(Date.now() - 1000).toISOString();
    await env.SESSIONS_KV.put(snapshotKey(a.owner), JSON.stringify(snapshot));
    await expectProblem(await kv.get("/api/v1/sessions/old"), 404, "session_not_found");
  });

  it("rolling back keeps what the objects last snapshotted", async () => {
    const a = await newOwner();
    await a.send("POST", "/api/v1/sessions", { id: "carried" });
    await snapshotNow(a.owner);
    expect((await json<Session>(await via(kvMode, a.token).get("/api/v1/sessions/carried"), 200)).id).toBe(
      "carried",
    );
  });

  it("reports the KV store on /api/v1/status", async () => {
    const response = await app.fetch(new Request(`${BASE}/api/v1/status`), kvMode, createExecutionContext());
    const report = (await response.json()) as StatusReport;
    expect(report.checks.sessions).toMatchObject({ ok: true, binding: "SESSIONS_KV", mode: "kv_fallback" });
  });
});

describe("an unreachable object, flag on", () => {
  it("answers reads from the owner's last KV snapshot and says so; refuses writes with 503", async () => {
    const a = await newOwner();
    await a.send("POST", "/api/v1/sessions", { id: "snap" });
    await a.send("PUT", "/api/v1/context/k", { value: "v" });
    await snapshotNow(a.owner);
    const broken = via({ ...env, SESSIONS: unreachable }, a.token);
    const read = await broken.get("/api/v1/sessions/snap");
    expect(read.headers.get(FALLBACK_HEADER)).toBe("kv-snapshot");
    expect(Date.parse(read.headers.get(SNAPSHOT_AT_HEADER) ?? "")).not.toBeNaN();
    expect((await json<Session>(read, 200)).id).toBe("snap");
    const list = await broken.get("/api/v1/context");
    expect(list.headers.get(FALLBACK_HEADER)).toBe("kv-snapshot");
    expect(await list.json()).toMatchObject({ entries: [{ key: "k", value: "v" }] });
    await expectProblem(await broken.get("/api/v1/sessions/none"), 404, "session_not_found");
    const write = await expectProblem(
      await broken.send("POST", "/api/v1/sessions", {}),
      503,
      "sessions_unavailable",
    );
    expect(JSON.stringify(write)).not.toContain("Network connection lost");
    // Reads through the healthy object carry no fallback header.
    expect((await a.get("/api/v1/sessions/snap")).headers.get(FALLBACK_HEADER)).toBeNull();
  });

  it("503 when there is no snapshot to fall back to", async () => {
    const a = await newOwner();
    const broken = via({ ...env, SESSIONS: unreachable }, a.token);
    await expectProblem(await broken.get("/api/v1/sessions"), 503, "sessions_unavailable");
  });

  it("status reports the object binding, and degraded when it cannot be reached", async () => {
    const healthy = (await (
      await app.fetch(new Request(`${BASE}/api/v1/status`), env, createExecutionContext())
    ).json()) as StatusReport;
    expect(healthy.checks.sessions).toMatchObject({ ok: true, binding: "SESSIONS", mode: "durable_objects" });
    const broken = (await (
      await app.fetch(
        new Request(`${BASE}/api/v1/status`),
        { ...env, SESSIONS: unreachable },
        createExecutionContext(),
      )
    ).json()) as StatusReport;
    expect(broken.status).toBe("degraded");
    expect(broken.checks.sessions.ok).toBe(false);
  });
});

describe("backups to R2", () => {
  it("copies each owner changed since the last run to sessions/{owner}/{date}.json, and only those", async () => {
    const a = await newOwner();
    const b = await newOwner();
    await a.send("POST", "/api/v1/sessions", { id: "backed" });
    await b.send("POST", "/api/v1/sessions", { id: "b-backed" });
    await snapshotNow(a.owner);
    await snapshotNow(b.owner);
    const now = Date.now();
    const first = await backupSessions(env, now);
    expect(first.failed).toBe(0);
    expect(first.backedUp).toEqual(expect.arrayContaining([a.owner, b.owner]));
    const object = await env.SESSION_BACKUPS.get(backupKey(a.owner, now));
    expect(backupKey(a.owner, now)).toMatch(new RegExp(`^sessions/${a.owner}/\\d{4}-\\d{2}-\\d{2}\\.json$`));
    const saved = (await object?.json()) as Snapshot;
    expect(saved.owner).toBe(a.owner);
    expect(saved.sessions.map((s) => s.id)).toEqual(["backed"]);
    expect(await env.SESSIONS_KV.get(LAST_BACKUP_KEY)).toBe(String(now));

    await a.send("POST", "/api/v1/sessions", { id: "later" });
    await snapshotNow(a.owner);
    const second = await backupSessions(env, Date.now() + 1);
    // Other tests' objects may flush their own snapshots meanwhile; b did not change.
    expect(second.backedUp).toContain(a.owner);
    expect(second.backedUp).not.toContain(b.owner);
  });

  it("runs from the Worker's scheduled handler, and a backup restores through import", async () => {
    const a = await newOwner();
    await a.send("POST", "/api/v1/sessions", { id: "cron" });
    await a.send("POST", "/api/v1/sessions/cron/messages", { role: "user", content: "keep me" });
    await snapshotNow(a.owner);
    const scheduledTime = Date.now() + 5;
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime, cron: "17 3 * * *" }), env, ctx);
    await waitOnExecutionContext(ctx);
    const backup = (await (
      await env.SESSION_BACKUPS.get(backupKey(a.owner, scheduledTime))
    )?.json()) as Snapshot;
    expect(backup.sessions[0]?.messages[0]?.content).toBe("keep me");

    await a.send("DELETE", "/api/v1/sessions/cron");
    const admin = await newOwner(["admin"]);
    expect((await admin.send("POST", "/api/v1/sessions/import", backup)).status).toBe(200);
    expect((await json<Session>(await a.get("/api/v1/sessions/cron"), 200)).messageCount).toBe(1);
  });
});

describe("OpenAPI", () => {
  it("documents every sessions route from the zod schemas", async () => {
    const doc = (await (
      await app.fetch(new Request(`${BASE}/api/v1/openapi.json`), env, createExecutionContext())
    ).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    for (const path of [
      "/api/v1/sessions",
      "/api/v1/sessions/{id}",
      "/api/v1/sessions/{id}/messages",
      "/api/v1/context",
      "/api/v1/context/{key}",
      "/api/v1/decisions",
      "/api/v1/sessions/export",
      "/api/v1/sessions/import",
      "/api/v1/sessions/ws-ticket",
      "/api/v1/sessions/ws",
    ]) {
      expect(Object.keys(doc.paths)).toContain(path);
    }
    expect(JSON.stringify(doc.paths["/api/v1/sessions/{id}/messages"])).toContain('"tool"');
  });
});
