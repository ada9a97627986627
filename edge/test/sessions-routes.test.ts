import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { LIMITS } from "../src/sessions/limits.ts";
import type { ContextEntry, Decision, Message, Session, Snapshot } from "../src/sessions/schemas.ts";
import { call, jsonInit, mintToken } from "./helpers.ts";
import { expectProblem, json, newOwner, stubOf } from "./sessions-helpers.ts";

type Page<K extends string, T> = { [key in K]: T[] } & { nextCursor?: string };

describe("sessions: create, read, update, delete", () => {
  it("creates with a generated or a chosen id, reads it back with its version as ETag", async () => {
    const a = await newOwner();
    const generated = await a.send("POST", "/api/v1/sessions", { metadata: { client: "cli" } });
    const session = await json<Session>(generated, 201);
    expect(session.id).toMatch(/^ses_[0-9a-f-]{36}$/);
    expect(generated.headers.get("location")).toBe(`/api/v1/sessions/${session.id}`);
    expect(session).toMatchObject({
      title: null,
      status: "active",
      version: 1,
      messageCount: 0,
      metadata: { client: "cli" },
    });
    expect(Date.parse(session.expiresAt) - Date.parse(session.lastActiveAt)).toBe(3600 * 1000);

    const chosen = await json<Session>(
      await a.send("POST", "/api/v1/sessions", { id: "planning-1", title: "Plan" }),
      201,
    );
    expect(chosen).toMatchObject({ id: "planning-1", title: "Plan" });
    const read = await a.get("/api/v1/sessions/planning-1");
    expect(read.headers.get("etag")).toBe('"1"');
    expect(await json<Session>(read, 200)).toEqual(chosen);
  });

  it("refuses an existing id with 409 and leaves the session as it was", async () => {
    const a = await newOwner();
    await a.send("POST", "/api/v1/sessions", { id: "dup", title: "first" });
    await expectProblem(
      await a.send("POST", "/api/v1/sessions", { id: "dup", title: "second" }),
      409,
      "session_exists",
    );
    expect((await json<Session>(await a.get("/api/v1/sessions/dup"), 200)).title).toBe("first");
  });

  it("updates with If-Match, and refuses a stale version with 412", async () => {
    const a = await newOwner();
    await a.send("POST", "/api/v1/sessions", { id: "s1" });
    const updated = await a.send(
      "PATCH",
      "/api/v1/sessions/s1",
      { title: "Renamed", status: "closed" },
      { "if-match": '"1"' },
    );
    expect(updated.headers.get("etag")).toBe('"2"');
    expect(await json<Session>(updated, 200)).toMatchObject({
      title: "Renamed",
      status: "closed",
      version: 2,
    });
    await expectProblem(
      await a.send("PATCH", "/api/v1/sessions/s1", { title: "Lost update" }, { "if-match": '"1"' }),
      412,
      "version_mismatch",
    );
    await expectProblem(
      await a.send("PATCH", "/api/v1/sessions/s1", { title: "x" }, { "if-match": "garbage" }),
      412,
      "version_mismatch",
    );
    expect(
      await json<Session>(await a.send("PATCH", "/api/v1/sessions/s1", { status: "active" }), 200),
    ).toMatchObject({ version: 3 });
    await expectProblem(await a.send("PATCH", "/api/v1/sessions/s1", {}), 400, "validation_failed");
    await expectProblem(
      await a.send("PATCH", "/api/v1/sessions/s1", { status: "paused" }),
      400,
      "validation_failed",
    );
    await expectProblem(
      await a.send("PATCH", "/api/v1/sessions/nope", { title: "x" }),
      404,
      "session_not_found",
    );
  });

  it("deletes a session with its messages; a second delete is a 404", async () => {
    const a = await newOwner();
    await a.send("POST", "/api/v1/sessions", { id: "gone" });
    await a.send("POST", "/api/v1/sessions/gone/messages", { role: "user", content: "hello" });
    expect((await a.send("DELETE", "/api/v1/sessions/gone")).status).toBe(204);
    await expectProblem(await a.get("/api/v1/sessions/gone"), 404, "session_not_found");
    await expectProblem(await a.get("/api/v1/sessions/gone/messages"), 404, "session_not_found");
    await expectProblem(await a.send("DELETE", "/api/v1/sessions/gone"), 404, "session_not_found");
    await a.send("POST", "/api/v1/sessions", { id: "gone" });
    expect(
      (await json<Page<"messages", Message>>(await a.get("/api/v1/sessions/gone/messages"), 200)).messages,
    ).toEqual([]);
  });

  it("lists with a cursor, filters by status, and refuses a foreign cursor", async () => {
    const a = await newOwner();
    for (let i = 0; i < 5; i++) await a.send("POST", "/api/v1/sessions", { id: `s${i}` });
    await a.send("PATCH", "/api/v1/sessions/s2", { status: "closed" });
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await json<Page<"sessions", Session>>(
        await a.get(`/api/v1/sessions?limit=2${cursor ? `&cursor=${cursor}` : ""}`),
        200,
      );
      expect(page.sessions.length).toBeLessThanOrEqual(2);
      seen.push(...page.sessions.map((s) => s.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(["s0", "s1", "s2", "s3", "s4"]);
    const closed = await json<Page<"sessions", Session>>(await a.get("/api/v1/sessions?status=closed"), 200);
    expect(closed.sessions.map((s) => s.id)).toEqual(["s2"]);
    await expectProblem(await a.get("/api/v1/sessions?cursor=bm90LWEtY3Vyc29y"), 400, "invalid_cursor");
    await expectProblem(await a.get("/api/v1/sessions?cursor=%%%"), 400, "invalid_cursor");
    await expectProblem(
      await a.get(`/api/v1/sessions?limit=${LIMITS.pageMax + 1}`),
      400,
      "validation_failed",
    );
    await expectProblem(await a.get("/api/v1/sessions?limit=0"), 400, "validation_failed");
  });

  it("validates ids and bodies: 400, 413 and 415 before anything is stored", async () => {
    const a = await newOwner();
    await expectProblem(
      await a.send("POST", "/api/v1/sessions", { id: "no spaces" }),
      400,
      "validation_failed",
    );
    await expectProblem(await a.send("POST", "/api/v1/sessions", { unknown: 1 }), 400, "validation_failed");
    await expectProblem(
      await a.send("POST", "/api/v1/sessions", { metadata: [1, 2] }),
      400,
      "validation_failed",
    );
    await expectProblem(
      await call("/api/v1/sessions", {
        method: "POST",
        headers: { authorization: `Bearer ${a.token}` },
        body: "{}",
      }),
      415,
      "unsupported_media_type",
    );
    await expectProblem(
      await call("/api/v1/sessions", {
        method: "POST",
        headers: { authorization: `Bearer ${a.token}`, "content-type": "application/json" },
        body: "{not json",
      }),
      400,
      "malformed_json",
    );
    await expectProblem(await a.get(`/api/v1/sessions/${"x".repeat(65)}`), 400, "validation_failed");
    expect((await json<Page<"sessions", Session>>(await a.get("/api/v1/sessions"), 200)).sessions).toEqual(
      [],
    );
  });
});

describe("sessions: authentication and scopes", () => {
  it("401 without a valid token on every route", async () => {
    const routes: [string, string][] = [
      ["POST", "/api/v1/sessions"],
      ["GET", "/api/v1/sessions"],
      ["GET", "/api/v1/sessions/x"],
      ["PATCH", "/api/v1/sessions/x"],
      ["DELETE", "/api/v1/sessions/x"],
      ["POST", "/api/v1/sessions/x/messages"],
      ["GET", "/api/v1/sessions/x/messages"],
      ["PUT", "/api/v1/context/k"],
      ["GET", "/api/v1/context/k"],
      ["DELETE", "/api/v1/context/k"],
      ["GET", "/api/v1/context"],
      ["POST", "/api/v1/decisions"],
      ["GET", "/api/v1/decisions"],
      ["GET", "/api/v1/sessions/export"],
      ["POST", "/api/v1/sessions/import"],
      ["POST", "/api/v1/sessions/ws-ticket"],
      ["GET", "/api/v1/sessions/ws"],
    ];
    for (const [method, path] of routes) {
      await expectProblem(
        await call(path, { method, headers: { authorization: "Bearer cc_nope" } }),
        401,
        "unauthorized",
      );
    }
  });

  it("403 when the token lacks sessions:write, sessions:read or admin", async () => {
    const reader = await newOwner(["sessions:read"]);
    const writer = await newOwner(["sessions:write"]);
    const other = await newOwner(["credentials:provision"]);
    await expectProblem(await reader.send("POST", "/api/v1/sessions", {}), 403, "insufficient_scope");
    await expectProblem(
      await reader.send("PUT", "/api/v1/context/k", { value: 1 }),
      403,
      "insufficient_scope",
    );
    await expectProblem(await reader.send("POST", "/api/v1/decisions", {}), 403, "insufficient_scope");
    await expectProblem(await writer.get("/api/v1/sessions"), 403, "insufficient_scope");
    await expectProblem(await writer.get("/api/v1/sessions/export"), 403, "insufficient_scope");
    await expectProblem(await other.get("/api/v1/context"), 403, "insufficient_scope");
    await expectProblem(await reader.send("POST", "/api/v1/sessions/import", {}), 403, "insufficient_scope");
    expect((await writer.send("POST", "/api/v1/sessions", {})).status).toBe(201);
  });
});

describe("messages", () => {
  it("appends in order, titles the session from the first user message, pages with a cursor", async () => {
    const a = await newOwner();
    await a.send("POST", "/api/v1/sessions", { id: "chat" });
    await a.send("POST", "/api/v1/sessions/chat/messages", { role: "system", content: "You are helpful." });
    const long =
      "Please   draft the migration plan for moving every tenant database to the new cluster tonight";
    const first = await json<Message>(
      await a.send("POST", "/api/v1/sessions/chat/messages", { role: "user", content: long }),
      201,
    );
    expect(first).toMatchObject({ sessionId: "chat", seq: 2, role: "user", content: long });
    await a.send("POST", "/api/v1/sessions/chat/messages", { role: "user", content: "A later question" });
    const session = await json<Session>(await a.get("/api/v1/sessions/chat"), 200);
    expect(session.title).toBe("Please draft the migration plan for moving every tenant…");
    expect(session.messageCount).toBe(3);

    const page1 = await json<Page<"messages", Message>>(
      await a.get("/api/v1/sessions/chat/messages?limit=2"),
      200,
    );
    expect(page1.messages.map((m) => m.seq)).toEqual([1, 2]);
    const page2 = await json<Page<"messages", Message>>(
      await a.get(`/api/v1/sessions/chat/messages?limit=2&cursor=${page1.nextCursor}`),
      200,
    );
    expect(page2.messages.map((m) => m.seq)).toEqual([3]);
    expect(page2.nextCursor).toBeUndefined();
  });

  it("keeps a client's title, and derives again when the title is set to null", async () => {
    const a = await newOwner();
    await a.send("POST", "/api/v1/sessions", { id: "t", title: "Mine" });
    await a.send("POST", "/api/v1/sessions/t/messages", { role: "user", content: "Derived title" });
    expect((await json<Session>(await a.get("/api/v1/sessions/t"), 200)).title).toBe("Mine");
    expect(
      (await json<Session>(await a.send("PATCH", "/api/v1/sessions/t", { title: null }), 200)).title,
    ).toBe("Derived title");
  });

  it("refuses a bad role, an empty message, an unknown or closed session", async () => {
    const a = await newOwner();
    await a.send("POST", "/api/v1/sessions", { id: "m" });
    await expectProblem(
      await a.send("POST", "/api/v1/sessions/m/messages", { role: "robot", content: "x" }),
      400,
      "validation_failed",
    );
    await expectProblem(
      await a.send("POST", "/api/v1/sessions/m/messages", { role: "user", content: "" }),
      400,
      "validation_failed",
    );
    await expectProblem(
      await a.send("POST", "/api/v1/sessions/none/messages", { role: "user", content: "x" }),
      404,
      "session_not_found",
    );
    await a.send("PATCH", "/api/v1/sessions/m", { status: "closed" });
    await expectProblem(
      await a.send("POST", "/api/v1/sessions/m/messages", { role: "user", content: "x" }),
      409,
      "session_closed",
    );
  });
});

describe("context", () => {
  it("sets (201, then 200), reads, lists with a cursor and deletes", async () => {
    const a = await newOwner();
    const created = await a.send("PUT", "/api/v1/context/project.name", {
      value: { name: "Atlas", tags: ["a"] },
    });
    expect((await json<ContextEntry>(created, 201)).value).toEqual({ name: "Atlas", tags: ["a"] });
    expect(
      (
        await json<ContextEntry>(
          await a.send("PUT", "/api/v1/context/project.name", { value: "Atlas 2" }),
          200,
        )
      ).value,
    ).toBe("Atlas 2");
    await a.send("PUT", "/api/v1/context/a", { value: null });
    await a.send("PUT", "/api/v1/context/b", { value: 3 });
    expect((await json<ContextEntry>(await a.get("/api/v1/context/a"), 200)).value).toBeNull();
    const page1 = await json<Page<"entries", ContextEntry>>(await a.get("/api/v1/context?limit=2"), 200);
    expect(page1.entries.map((e) => e.key)).toEqual(["a", "b"]);
    const page2 = await json<Page<"entries", ContextEntry>>(
      await a.get(`/api/v1/context?cursor=${page1.nextCursor}`),
      200,
    );
    expect(page2.entries.map((e) => e.key)).toEqual(["project.name"]);
    expect((await a.send("DELETE", "/api/v1/context/a")).status).toBe(204);
    await expectProblem(await a.get("/api/v1/context/a"), 404, "context_not_found");
    await expectProblem(await a.send("DELETE", "/api/v1/context/a"), 404, "context_not_found");
  });

  it("refuses a bad key or a body without value", async () => {
    const a = await newOwner();
    await expectProblem(
      await a.send("PUT", "/api/v1/context/bad%20key", { value: 1 }),
      400,
      "validation_failed",
    );
    await expectProblem(await a.send("PUT", "/api/v1/context/k", { other: 1 }), 400, "validation_failed");
    await expectProblem(await a.send("PUT", "/api/v1/context/k", {}), 400, "validation_failed");
  });
});

describe("decisions", () => {
  it("logs decisions with optional session and lists them, filtered and paged", async () => {
    const a = await newOwner();
    await a.send("POST", "/api/v1/sessions", { id: "d" });
    const first = await json<Decision>(
      await a.send("POST", "/api/v1/decisions", {
        type: "route",
        reasoning: "cheapest",
        confidence: 0.8,
        sessionId: "d",
      }),
      201,
    );
    expect(first).toMatchObject({ id: 1, type: "route", confidence: 0.8, sessionId: "d" });
    await a.send("POST", "/api/v1/decisions", { type: "escalate", reasoning: "unclear", confidence: 0 });
    await a.send("POST", "/api/v1/decisions", {
      type: "close",
      reasoning: "done",
      confidence: 1,
      sessionId: "d",
    });
    const onlyD = await json<Page<"decisions", Decision>>(await a.get("/api/v1/decisions?sessionId=d"), 200);
    expect(onlyD.decisions.map((d) => d.type)).toEqual(["route", "close"]);
    const page1 = await json<Page<"decisions", Decision>>(await a.get("/api/v1/decisions?limit=2"), 200);
    const page2 = await json<Page<"decisions", Decision>>(
      await a.get(`/api/v1/decisions?limit=2&cursor=${page1.nextCursor}`),
      200,
    );
    expect([...page1.decisions, ...page2.decisions].map((d) => d.id)).toEqual([1, 2, 3]);
  });

  it("refuses confidence outside 0..1 and an unknown session", async () => {
    const a = await newOwner();
    await expectProblem(
      await a.send("POST", "/api/v1/decisions", { type: "t", reasoning: "r", confidence: 1.5 }),
      400,
      "validation_failed",
    );
    await expectProblem(
      await a.send("POST", "/api/v1/decisions", { type: "t", reasoning: "r", confidence: -0.1 }),
      400,
      "validation_failed",
    );
    await expectProblem(
      await a.send("POST", "/api/v1/decisions", { type: "", reasoning: "r", confidence: 0.5 }),
      400,
      "validation_failed",
    );
    await expectProblem(
      await a.send("POST", "/api/v1/decisions", {
        type: "t",
        reasoning: "r",
        confidence: 0.5,
        sessionId: "nope",
      }),
      404,
      "session_not_found",
    );
  });
});

describe("export and import", () => {
  it("exports everything, and an admin restores it into an empty owner (409 unless replace)", async () => {
    const a = await newOwner();
    await a.send("POST", "/api/v1/sessions", { id: "keep", metadata: { k: 1 } });
    await a.send("POST", "/api/v1/sessions/keep/messages", { role: "user", content: "remember me" });
    await a.send("PUT", "/api/v1/context/c", { value: [1, 2] });
    await a.send("POST", "/api/v1/decisions", {
      type: "t",
      reasoning: "r",
      confidence: 0.5,
      sessionId: "keep",
    });
    const snapshot = await json<Snapshot>(await a.get("/api/v1/sessions/export"), 200);
    expect(snapshot).toMatchObject({ format: "chittyconnect.sessions/v1", owner: a.owner });
    expect(snapshot.sessions[0]?.messages.map((m) => m.content)).toEqual(["remember me"]);
    expect(snapshot.context).toHaveLength(1);
    expect(snapshot.decisions).toHaveLength(1);

    const admin = await newOwner(["admin"]);
    const restored = { ...snapshot, owner: `${a.owner}-restored` };
    const imported = await json<{ imported: Record<string, number> }>(
      await admin.send("POST", "/api/v1/sessions/import", restored),
      200,
    );
    expect(imported.imported).toEqual({ sessions: 1, messages: 1, context: 1, decisions: 1 });
    await expectProblem(
      await admin.send("POST", "/api/v1/sessions/import", restored),
      409,
      "owner_not_empty",
    );
    expect((await admin.send("POST", "/api/v1/sessions/import?replace=true", restored)).status).toBe(200);

    const reader = await mintToken(restored.owner, ["sessions:read"]);
    const again = await json<Snapshot>(
      await call("/api/v1/sessions/export", { headers: { authorization: `Bearer ${reader.token}` } }),
      200,
    );
    expect(again.sessions.map((s) => s.id)).toEqual(["keep"]);
    expect(again.sessions[0]?.messages[0]?.content).toBe("remember me");
    expect(again.decisions[0]).toMatchObject({ id: 1, sessionId: "keep" });
  });

  it("refuses a body that is not a snapshot, or bigger than the import limit", async () => {
    const admin = await newOwner(["admin"]);
    await expectProblem(
      await admin.send("POST", "/api/v1/sessions/import", { format: "other" }),
      400,
      "validation_failed",
    );
    const response = await call(
      "/api/v1/sessions/import",
      jsonInit(
        "POST",
        { pad: "x".repeat(LIMITS.importBodyBytes) },
        { authorization: `Bearer ${admin.token}` },
      ),
    );
    await expectProblem(response, 413, "payload_too_large");
  });
});

describe("owner isolation", () => {
  it("another owner's session, messages, context and decisions are invisible: 404 or empty", async () => {
    const a = await newOwner();
    const b = await newOwner();
    await a.send("POST", "/api/v1/sessions", { id: "private" });
    await a.send("POST", "/api/v1/sessions/private/messages", { role: "user", content: "secret plan" });
    await a.send("PUT", "/api/v1/context/k", { value: "a's" });
    await a.send("POST", "/api/v1/decisions", { type: "t", reasoning: "a's reasoning", confidence: 1 });

    await expectProblem(await b.get("/api/v1/sessions/private"), 404, "session_not_found");
    await expectProblem(
      await b.send("PATCH", "/api/v1/sessions/private", { title: "mine" }),
      404,
      "session_not_found",
    );
    await expectProblem(await b.send("DELETE", "/api/v1/sessions/private"), 404, "session_not_found");
    await expectProblem(await b.get("/api/v1/sessions/private/messages"), 404, "session_not_found");
    await expectProblem(
      await b.send("POST", "/api/v1/sessions/private/messages", { role: "user", content: "x" }),
      404,
      "session_not_found",
    );
    await expectProblem(await b.get("/api/v1/context/k"), 404, "context_not_found");
    await expectProblem(await b.send("DELETE", "/api/v1/context/k"), 404, "context_not_found");
    await expectProblem(
      await b.send("POST", "/api/v1/decisions", {
        type: "t",
        reasoning: "r",
        confidence: 1,
        sessionId: "private",
      }),
      404,
      "session_not_found",
    );
    expect((await json<Page<"sessions", Session>>(await b.get("/api/v1/sessions"), 200)).sessions).toEqual(
      [],
    );
    expect((await json<Page<"entries", ContextEntry>>(await b.get("/api/v1/context"), 200)).entries).toEqual(
      [],
    );
    expect(
      (await json<Page<"decisions", Decision>>(await b.get("/api/v1/decisions"), 200)).decisions,
    ).toEqual([]);
    const exported = await b.get("/api/v1/sessions/export");
    expect(await exported.text()).not.toContain("secret plan");
    // B may use the same id for its own session without touching A's.
    expect((await b.send("POST", "/api/v1/sessions", { id: "private" })).status).toBe(201);
    await b.send("PUT", "/api/v1/context/k", { value: "b's" });
    expect((await json<ContextEntry>(await a.get("/api/v1/context/k"), 200)).value).toBe("a's");
    expect((await json<Session>(await a.get("/api/v1/sessions/private"), 200)).messageCount).toBe(1);
  });

  it("a token's X-ChittyID must be its own owner", async () => {
    const a = await newOwner();
    await expectProblem(
      await a.get("/api/v1/sessions", { "x-chittyid": "someone-else" }),
      403,
      "owner_mismatch",
    );
  });
});

describe("limits", () => {
  it("metadata, message, context value and reasoning sizes → 413", async () => {
    const a = await newOwner();
    await expectProblem(
      await a.send("POST", "/api/v1/sessions", { metadata: { blob: "x".repeat(LIMITS.metadataBytes) } }),
      413,
      "metadata_too_large",
    );
    await a.send("POST", "/api/v1/sessions", { id: "s" });
    await expectProblem(
      await a.send("PATCH", "/api/v1/sessions/s", { metadata: { blob: "x".repeat(LIMITS.metadataBytes) } }),
      413,
      "metadata_too_large",
    );
    // Multi-byte characters count as bytes, not characters.
    await expectProblem(
      await a.send("POST", "/api/v1/sessions/s/messages", {
        role: "user",
        content: "é".repeat(LIMITS.messageBytes / 2 + 1),
      }),
      413,
      "message_too_large",
    );
    expect(
      (
        await a.send("POST", "/api/v1/sessions/s/messages", {
          role: "user",
          content: "é".repeat(LIMITS.messageBytes / 2),
        })
      ).status,
    ).toBe(201);
    await expectProblem(
      await a.send("PUT", "/api/v1/context/big", { value: "x".repeat(LIMITS.contextValueBytes) }),
      413,
      "context_value_too_large",
    );
    await expectProblem(
      await a.send("POST", "/api/v1/decisions", {
        type: "t",
        reasoning: "x".repeat(LIMITS.reasoningBytes + 1),
        confidence: 1,
      }),
      413,
      "reasoning_too_large",
    );
  });

  it("sessions, messages, context keys and decisions per owner → 409 at the limit", async () => {
    const a = await newOwner();
    await a.send("POST", "/api/v1/sessions", { id: "full" });
    await a.send("POST", "/api/v1/decisions", { type: "t", reasoning: "r", confidence: 1 });
    await a.send("PUT", "/api/v1/context/seed", { value: 1 });
    // Filling to the limits over HTTP would take minutes; the rows are written straight into the object.
    await runInDurableObject(stubOf(a.owner), (_instance, state) => {
      const { sql } = state.storage;
      sql.exec("UPDATE sessions SET message_count = ? WHERE id = 'full'", LIMITS.messagesPerSession);
      sql.exec(
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
         INSERT INTO sessions SELECT 'bulk' || i, NULL, 0, '{}', 'active', 1, 0, 2, i, i, i, 9e15 FROM n`,
        LIMITS.sessionsPerOwner - 1,
      );
      sql.exec(
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
         INSERT INTO context SELECT 'bulk' || i, '1', 1, 0 FROM n`,
        LIMITS.contextKeysPerOwner - 1,
      );
      sql.exec(
        `WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
         INSERT INTO decisions SELECT i, 't', 'r', 1, NULL, 0 FROM n`,
        LIMITS.decisionsPerOwner,
      );
    });
    await expectProblem(await a.send("POST", "/api/v1/sessions", {}), 409, "session_limit_reached");
    await expectProblem(
      await a.send("POST", "/api/v1/sessions/full/messages", { role: "user", content: "x" }),
      409,
      "message_limit_reached",
    );
    await expectProblem(
      await a.send("PUT", "/api/v1/context/one-more", { value: 1 }),
      409,
      "context_limit_reached",
    );
    expect((await a.send("PUT", "/api/v1/context/seed", { value: 2 })).status).toBe(200);
    await expectProblem(
      await a.send("POST", "/api/v1/decisions", { type: "t", reasoning: "r", confidence: 1 }),
      409,
      "decision_limit_reached",
    );
    // Making room makes the next one fit.
    expect((await a.send("DELETE", "/api/v1/sessions/bulk1")).status).toBe(204);
    expect((await a.send("POST", "/api/v1/sessions", {})).status).toBe(201);
  });

  it("the owner's byte budget → 413 owner_storage_full, and deleting frees it", async () => {
    const a = await newOwner();
    await a.send("POST", "/api/v1/sessions", { id: "s" });
    await a.send("POST", "/api/v1/sessions/s/messages", { role: "user", content: "x".repeat(1000) });
    const used = await runInDurableObject(stubOf(a.owner), (_instance, state) => {
      const row = state.storage.sql
        .exec<{ value: string }>("SELECT value FROM meta WHERE key = 'used_bytes'")
        .one();
      state.storage.sql.exec(
        "UPDATE meta SET value = ? WHERE key = 'used_bytes'",
        String(LIMITS.ownerBytes - 10),
      );
      return Number(row.value);
    });
    expect(used).toBe(2 + 1000);
    await expectProblem(
      await a.send("POST", "/api/v1/sessions/s/messages", { role: "user", content: "x".repeat(11) }),
      413,
      "owner_storage_full",
    );
    await expectProblem(
      await a.send("PUT", "/api/v1/context/k", { value: "x".repeat(20) }),
      413,
      "owner_storage_full",
    );
    expect((await a.send("DELETE", "/api/v1/sessions/s")).status).toBe(204);
    expect((await a.send("PUT", "/api/v1/context/k", { value: "x".repeat(20) })).status).toBe(201);
  });
});

describe("concurrency", () => {
  it("50 concurrent writers to one owner lose no update", async () => {
    const a = await newOwner();
    await a.send("POST", "/api/v1/sessions", { id: "busy" });
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        i % 2 === 0
          ? a.send("POST", "/api/v1/sessions/busy/messages", { role: "user", content: `message ${i}` })
          : a.send("PUT", `/api/v1/context/writer-${i}`, { value: i }),
      ),
    );
    expect(responses.map((r) => r.status).sort()).toEqual([...Array(25).fill(201), ...Array(25).fill(201)]);
    const messages = await json<Page<"messages", Message>>(
      await a.get("/api/v1/sessions/busy/messages?limit=200"),
      200,
    );
    expect(messages.messages.map((m) => m.seq)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect(new Set(messages.messages.map((m) => m.content)).size).toBe(25);
    expect((await json<Session>(await a.get("/api/v1/sessions/busy"), 200)).messageCount).toBe(25);
    expect(
      (await json<Page<"entries", ContextEntry>>(await a.get("/api/v1/context?limit=200"), 200)).entries,
    ).toHaveLength(25);
  });
});
