import { type ChittyClient, createClient } from "@chittyconnect/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type RunningStack, startStack } from "../support/stack.ts";

const OWNER = "01-C-E2E-0009-P-2611-A-1";

let stack: RunningStack;

/** Mints a sessions token through the typed client and returns a client that carries it. */
async function mint(owner = OWNER): Promise<{ token: string; edge: ChittyClient }> {
  const minted = await createClient({ baseUrl: stack.edgeUrl, token: stack.adminToken }).raw.POST(
    "/api/v1/admin/tokens",
    { body: { owner, scopes: ["sessions:read", "sessions:write"] } },
  );
  expect(minted.response.status).toBe(201);
  const token = minted.data!.token;
  stack.track(token);
  return { token, edge: createClient({ baseUrl: stack.edgeUrl, token }) };
}

interface Event {
  type: string;
  data: { id?: string; key?: string; content?: string };
  seq: number;
}

/** A real `ws` client that keeps every event, opened with headers or with a ticket URL. */
function connect(url: string, headers: Record<string, string> = {}) {
  const ws = new WebSocket(url, { headers });
  const events: Event[] = [];
  ws.on("message", (data) => {
    const text = data.toString();
    if (text !== "pong") events.push(JSON.parse(text) as Event);
  });
  const opened = new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("unexpected-response", (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    ws.once("error", reject);
  });
  async function next(match: (e: Event) => boolean, timeoutMs = 10_000): Promise<Event> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = events.find(match);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no matching event in ${JSON.stringify(events)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  return { ws, events, opened, next };
}

describe("end to end: sessions over the local stack", () => {
  beforeAll(async () => {
    stack = await startStack();
  }, 200_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it("an event made over HTTP arrives on a real WebSocket", async () => {
    const { token, edge } = await mint();
    const socket = connect(`${stack.edgeUrl.replace("http", "ws")}/api/v1/sessions/ws`, {
      authorization: `Bearer ${token}`,
    });
    await socket.opened;
    const created = await edge.raw.POST("/api/v1/sessions", { body: { id: "e2e-live" } });
    expect(created.response.status).toBe(201);
    const message = await edge.raw.POST("/api/v1/sessions/{id}/messages", {
      params: { path: { id: "e2e-live" } },
      body: { role: "user", content: "hello from e2e" },
    });
    expect(message.response.status).toBe(201);
    expect((await socket.next((e) => e.type === "session.created")).data.id).toBe("e2e-live");
    expect((await socket.next((e) => e.type === "message.added")).data.content).toBe("hello from e2e");
    const pong = new Promise<string>((resolve) => socket.ws.once("message", (d) => resolve(d.toString())));
    socket.ws.send("ping");
    expect(await pong).toBe("pong");
    socket.ws.close();
  });

  it("a browser-style ticket opens the socket once, and another owner's socket hears nothing", async () => {
    const { edge } = await mint();
    const stranger = await mint("01-C-E2E-0010-P-2611-A-1");
    const ticket = await edge.raw.POST("/api/v1/sessions/ws-ticket", { body: {} });
    expect(ticket.response.status).toBe(201);
    const { url } = ticket.data!;
    const wsUrl = url.replace(/^wss?:\/\/[^/]+/, stack.edgeUrl.replace("http", "ws"));
    const mine = connect(wsUrl);
    await mine.opened;
    await expect(connect(wsUrl).opened).rejects.toThrow("401");
    const theirs = connect(`${stack.edgeUrl.replace("http", "ws")}/api/v1/sessions/ws`, {
      authorization: `Bearer ${stranger.token}`,
    });
    await theirs.opened;
    expect(await edge.context.set("e2e-key", 42)).toMatchObject({ key: "e2e-key", value: 42 });
    expect((await mine.next((e) => e.type === "context.set")).data.key).toBe("e2e-key");
    expect(await stranger.edge.context.set("theirs", 1)).toMatchObject({ key: "theirs", value: 1 });
    await theirs.next((e) => e.type === "context.set");
    expect(theirs.events.map((e) => e.data.key)).toEqual(["theirs"]);
    mine.ws.close();
    theirs.ws.close();
  });

  it("status reports the Durable Object binding", async () => {
    const status = await createClient({ baseUrl: stack.edgeUrl }).status();
    expect(status.checks.sessions).toMatchObject({ ok: true, binding: "SESSIONS" });
  });
});
