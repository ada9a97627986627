import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { CLOSE_TOKEN_REVOKED } from "../src/sessions/durable-object.ts";
import type { Session } from "../src/sessions/schemas.ts";
import { MAX_OPEN_TICKETS } from "../src/sessions/tickets.ts";
import { ADMIN, bearer, call } from "./helpers.ts";
import { expectProblem, json, makeDue, newOwner, openSocket, stubOf } from "./sessions-helpers.ts";

describe("WebSocket events", () => {
  it("two sockets of one owner both receive an event made over HTTP, as {type, data, at, seq}", async () => {
    const a = await newOwner();
    const first = await openSocket("", bearer(a.token));
    const second = await openSocket("", bearer(a.token));
    await a.send("POST", "/api/v1/sessions", { id: "live" });
    for (const socket of [first, second]) {
      const event = await socket.next((e) => e.type === "session.created");
      expect(event.data).toMatchObject({ id: "live", version: 1 });
      expect(event.seq).toBeGreaterThan(0);
      expect(Date.parse(event.at)).not.toBeNaN();
    }
    await a.send("POST", "/api/v1/sessions/live/messages", { role: "user", content: "hi" });
    await a.send("PUT", "/api/v1/context/k", { value: 1 });
    await a.send("DELETE", "/api/v1/context/k");
    await a.send("POST", "/api/v1/decisions", { type: "t", reasoning: "r", confidence: 0.5 });
    await a.send("PATCH", "/api/v1/sessions/live", { status: "closed" });
    await a.send("DELETE", "/api/v1/sessions/live");
    await first.next((e) => e.type === "session.deleted");
    expect(first.events.map((e) => e.type)).toEqual([
      "session.created",
      "message.added",
      "session.updated",
      "context.set",
      "context.deleted",
      "decision.added",
      "session.updated",
      "session.deleted",
    ]);
    const seqs = first.events.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    first.ws.close(1000);
    second.ws.close(1000);
  });

  it("never delivers another owner's events", async () => {
    const a = await newOwner();
    const b = await newOwner();
    const bSocket = await openSocket("", bearer(b.token));
    const aSocket = await openSocket("", bearer(a.token));
    await a.send("POST", "/api/v1/sessions", { id: "only-a" });
    await a.send("PUT", "/api/v1/context/secret", { value: "a's" });
    await aSocket.next((e) => e.type === "context.set");
    await b.send("PUT", "/api/v1/context/mine", { value: "b's" });
    await bSocket.next((e) => e.type === "context.set");
    expect(bSocket.events.map((e) => JSON.stringify(e.data))).toEqual([
      JSON.stringify((bSocket.events[0] as { data: unknown }).data),
    ]);
    expect(JSON.stringify(bSocket.events)).not.toContain("only-a");
    // A subscription to another owner's session id is a 404: the id does not exist for B.
    const refused = await call("/api/v1/sessions/ws?sessionId=only-a", {
      headers: { upgrade: "websocket", ...bearer(b.token) },
    });
    await expectProblem(refused, 404, "session_not_found");
  });

  it("a socket subscribed to one session gets only that session's events", async () => {
    const a = await newOwner();
    await a.send("POST", "/api/v1/sessions", { id: "one" });
    await a.send("POST", "/api/v1/sessions", { id: "two" });
    const onlyOne = await openSocket("?sessionId=one", bearer(a.token));
    await a.send("POST", "/api/v1/sessions/two/messages", { role: "user", content: "not for you" });
    await a.send("PUT", "/api/v1/context/k", { value: 1 });
    await a.send("POST", "/api/v1/decisions", { type: "t", reasoning: "r", confidence: 1, sessionId: "one" });
    await a.send("POST", "/api/v1/sessions/one/messages", { role: "user", content: "for you" });
    await onlyOne.next((e) => e.type === "message.added");
    await onlyOne.next((e) => e.type === "session.updated");
    expect(onlyOne.events.map((e) => e.type)).toEqual(["decision.added", "message.added", "session.updated"]);
    expect(JSON.stringify(onlyOne.events)).not.toContain("not for you");
  });

  it("answers ping with pong, and refuses a plain GET with 426", async () => {
    const a = await newOwner();
    const socket = await openSocket("", bearer(a.token));
    const pong = new Promise<string>((resolve) =>
      socket.ws.addEventListener("message", (e) => resolve(String(e.data))),
    );
    socket.ws.send("ping");
    expect(await pong).toBe("pong");
    await expectProblem(await a.get("/api/v1/sessions/ws"), 426, "websocket_upgrade_required");
    await expectProblem(
      await call("/api/v1/sessions/ws?since=-1", { headers: { upgrade: "websocket", ...bearer(a.token) } }),
      400,
      "validation_failed",
    );
  });

  it("replays what a reconnecting client missed after ?since=, then resync when the backlog is gone", async () => {
    const a = await newOwner();
    const socket = await openSocket("", bearer(a.token));
    await a.send("POST", "/api/v1/sessions", { id: "r" });
    const seen = await socket.next((e) => e.type === "session.created");
    socket.ws.close(1000);
    await a.send("PUT", "/api/v1/context/missed-1", { value: 1 });
    await a.send("PUT", "/api/v1/context/missed-2", { value: 2 });
    const back = await openSocket(`?since=${seen.seq}`, bearer(a.token));
    await back.next((e) => (e.data as { key?: string }).key === "missed-2");
    expect(back.events.map((e) => (e.data as { key: string }).key)).toEqual(["missed-1", "missed-2"]);

    // The oldest events were dropped from the bounded backlog: a client that far behind must refetch.
    await runInDurableObject(stubOf(a.owner), (_instance, state) => {
      state.storage.sql.exec("DELETE FROM events WHERE seq <= ?", seen.seq + 1);
    });
    const behind = await openSocket(`?since=${seen.seq - 1}`, bearer(a.token));
    const resync = await behind.next((e) => e.type === "resync");
    expect(resync.data).toEqual({ reason: "backlog_exceeded" });
    expect(behind.events.map((e) => e.type)).toEqual(["context.set", "resync"]);
  });
});

describe("hibernation", () => {
  it("state and open sockets survive the object being evicted", async () => {
    const a = await newOwner();
    await a.send("POST", "/api/v1/sessions", { id: "before" });
    const socket = await openSocket("", bearer(a.token));
    const stub = stubOf(a.owner);
    await evictDurableObject(stub);
    const instance = await runInDurableObject(stub, (_instance, state) => state.getWebSockets().length);
    expect(instance).toBe(1);
    expect((await json<Session>(await a.get("/api/v1/sessions/before"), 200)).id).toBe("before");
    await a.send("POST", "/api/v1/sessions", { id: "after" });
    const event = await socket.next((e) => e.type === "session.created");
    expect((event.data as { id: string }).id).toBe("after");
    const pong = new Promise<string>((resolve) =>
      socket.ws.addEventListener("message", (e) => resolve(String(e.data))),
    );
    socket.ws.send("ping");
    expect(await pong).toBe("pong");
  });
});

describe("expiry", () => {
  it("the alarm is set for the earliest expiry and removes idle sessions, telling subscribers", async () => {
    const a = await newOwner();
    await a.send("POST", "/api/v1/sessions", { id: "idle" });
    const busy = await json<Session>(await a.send("POST", "/api/v1/sessions", { id: "busy" }), 201);
    const stub = stubOf(a.owner);
    // First due: the KV snapshot of these changes, a few seconds out; then the earliest expiry.
    const snapshotAlarm = await runInDurableObject(stub, (_instance, state) => state.storage.getAlarm());
    expect((snapshotAlarm ?? 0) - Date.now()).toBeLessThanOrEqual(10_000);
    await makeDue(a.owner, ["snapshot_due"]);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const alarm = await runInDurableObject(stub, (_instance, state) => state.storage.getAlarm());
    const idle = await json<Session>(await a.get("/api/v1/sessions/idle"), 200);
    expect(alarm).toBe(Date.parse(idle.expiresAt));
    expect(Date.parse(busy.expiresAt)).toBeGreaterThanOrEqual(alarm ?? 0);

    const socket = await openSocket("", bearer(a.token));
    await runInDurableObject(stub, (_instance, state) => {
      state.storage.sql.exec("UPDATE sessions SET expires_at = ? WHERE id = 'idle'", Date.now() - 1);
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const expired = await socket.next((e) => e.type === "session.expired");
    expect(expired.data).toEqual({ id: "idle" });
    await expectProblem(await a.get("/api/v1/sessions/idle"), 404, "session_not_found");
    expect((await a.get("/api/v1/sessions/busy")).status).toBe(200);
    const next = await runInDurableObject(stub, (_instance, state) => state.storage.getAlarm());
    expect(next).not.toBeNull();
    expect(next ?? 0).toBeLessThanOrEqual(Date.parse(busy.expiresAt));
  });

  it("activity pushes the expiry back", async () => {
    const a = await newOwner();
    const created = await json<Session>(await a.send("POST", "/api/v1/sessions", { id: "s" }), 201);
    await new Promise((r) => setTimeout(r, 20));
    await a.send("POST", "/api/v1/sessions/s/messages", { role: "user", content: "still here" });
    const after = await json<Session>(await a.get("/api/v1/sessions/s"), 200);
    expect(Date.parse(after.expiresAt)).toBeGreaterThan(Date.parse(created.expiresAt));
  });
});

describe("tickets", () => {
  it("opens a socket once with a ticket; a second use is a 401", async () => {
    const a = await newOwner(["sessions:read"]);
    const issued = await json<{ ticket: string; url: string; expiresAt: string }>(
      await a.send("POST", "/api/v1/sessions/ws-ticket"),
      201,
    );
    expect(issued.url).toBe(`wss://edge.test/api/v1/sessions/ws?ticket=${encodeURIComponent(issued.ticket)}`);
    expect(Date.parse(issued.expiresAt) - Date.now()).toBeLessThanOrEqual(30_000);
    const socket = await openSocket(`?ticket=${issued.ticket}`, {});
    expect(socket.ws.readyState).toBe(WebSocket.OPEN);
    await expectProblem(
      await call(`/api/v1/sessions/ws?ticket=${issued.ticket}`, { headers: { upgrade: "websocket" } }),
      401,
      "invalid_ticket",
    );
  });

  it("a late, forged or revoked-token ticket is a 401", async () => {
    const a = await newOwner();
    const late = await json<{ ticket: string }>(await a.send("POST", "/api/v1/sessions/ws-ticket"), 201);
    await runInDurableObject(stubOf(a.owner), (_instance, state) => {
      state.storage.sql.exec("UPDATE tickets SET expires_at = ?", Date.now() - 1);
    });
    await expectProblem(
      await call(`/api/v1/sessions/ws?ticket=${late.ticket}`, { headers: { upgrade: "websocket" } }),
      401,
      "invalid_ticket",
    );
    const forged = `wst.${a.owner}.${"A".repeat(43)}`;
    await expectProblem(
      await call(`/api/v1/sessions/ws?ticket=${forged}`, { headers: { upgrade: "websocket" } }),
      401,
      "invalid_ticket",
    );
    await expectProblem(
      await call("/api/v1/sessions/ws?ticket=nonsense", { headers: { upgrade: "websocket" } }),
      401,
      "invalid_ticket",
    );

    const fresh = await json<{ ticket: string }>(await a.send("POST", "/api/v1/sessions/ws-ticket"), 201);
    expect(
      (await call(`/api/v1/admin/tokens/${a.tokenId}`, { method: "DELETE", headers: ADMIN })).status,
    ).toBe(204);
    await expectProblem(
      await call(`/api/v1/sessions/ws?ticket=${fresh.ticket}`, { headers: { upgrade: "websocket" } }),
      401,
      "invalid_ticket",
    );
  });

  it("builds the URL for a session subscription, and limits open tickets", { timeout: 60_000 }, async () => {
    const a = await newOwner();
    await a.send("POST", "/api/v1/sessions", { id: "sub" });
    const issued = await json<{ url: string }>(
      await a.send("POST", "/api/v1/sessions/ws-ticket", { sessionId: "sub" }),
      201,
    );
    expect(new URL(issued.url).searchParams.get("sessionId")).toBe("sub");
    for (let i = 1; i < MAX_OPEN_TICKETS; i++)
      expect((await a.send("POST", "/api/v1/sessions/ws-ticket")).status).toBe(201);
    await expectProblem(await a.send("POST", "/api/v1/sessions/ws-ticket"), 409, "ticket_limit_reached");
  });

  it("requires sessions:read for a ticket and for the socket", async () => {
    const writer = await newOwner(["sessions:write"]);
    await expectProblem(await writer.send("POST", "/api/v1/sessions/ws-ticket"), 403, "insufficient_scope");
    await expectProblem(
      await call("/api/v1/sessions/ws", { headers: { upgrade: "websocket", ...bearer(writer.token) } }),
      403,
      "insufficient_scope",
    );
  });
});

describe("revoked tokens", () => {
  it("closes a revoked token's sockets at the next token check, and keeps the others", async () => {
    const a = await newOwner();
    const other = await newOwner();
    const second = await json<{ id: string; token: string }>(
      await call("/api/v1/admin/tokens", {
        method: "POST",
        headers: { ...ADMIN, "content-type": "application/json" },
        body: JSON.stringify({ owner: a.owner, scopes: ["sessions:read"] }),
      }),
      201,
    );
    const doomed = await openSocket("", bearer(a.token));
    const kept = await openSocket("", bearer(second.token));
    const alarm = await runInDurableObject(stubOf(a.owner), (_instance, state) => state.storage.getAlarm());
    expect(alarm).not.toBeNull();
    expect((alarm ?? 0) - Date.now()).toBeLessThanOrEqual(60_000);
    expect(
      (await call(`/api/v1/admin/tokens/${a.tokenId}`, { method: "DELETE", headers: ADMIN })).status,
    ).toBe(204);
    await makeDue(a.owner, ["token_check_due"]);
    expect(await runDurableObjectAlarm(stubOf(a.owner))).toBe(true);
    expect((await doomed.closed).code).toBe(CLOSE_TOKEN_REVOKED);
    await runInDurableObject(stubOf(a.owner), (_instance, state) =>
      expect(state.getWebSockets().length).toBe(1),
    );
    await other.send("POST", "/api/v1/sessions", { id: "elsewhere" });
    const writer = await json<{ token: string }>(
      await call("/api/v1/admin/tokens", {
        method: "POST",
        headers: { ...ADMIN, "content-type": "application/json" },
        body: JSON.stringify({ owner: a.owner, scopes: ["sessions:write"] }),
      }),
      201,
    );
    await call("/api/v1/sessions", {
      method: "POST",
      headers: { ...bearer(writer.token), "content-type": "application/json" },
      body: "{}",
    });
    await kept.next((e) => e.type === "session.created");
    expect(JSON.stringify(kept.events)).not.toContain("elsewhere");
    kept.ws.close(1000);
  });
});
