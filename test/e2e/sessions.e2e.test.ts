import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type RunningStack, startStack } from "../support/stack.ts";

const OWNER = "01-C-E2E-0009-P-2611-A-1";

let stack: RunningStack;

async function mint(scopes: string[], owner = OWNER): Promise<string> {
  const response = await fetch(`${stack.edgeUrl}/api/v1/admin/tokens`, {
    method: "POST",
    headers: { authorization: `Bearer ${stack.adminToken}`, "content-type": "application/json" },
    body: JSON.stringify({ owner, scopes }),
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { token: string }).token;
}

function api(token: string, method: string, path: string, body?: unknown) {
  return fetch(`${stack.edgeUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
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
    const token = await mint(["sessions:read", "sessions:write"]);
    const socket = connect(`${stack.edgeUrl.replace("http", "ws")}/api/v1/sessions/ws`, {
      authorization: `Bearer ${token}`,
    });
    await socket.opened;
    const created = await api(token, "POST", "/api/v1/sessions", { id: "e2e-live" });
    expect(created.status).toBe(201);
    const message = await api(token, "POST", "/api/v1/sessions/e2e-live/messages", {
      role: "user",
      content: "hello from e2e",
    });
    expect(message.status).toBe(201);
    expect((await socket.next((e) => e.type === "session.created")).data.id).toBe("e2e-live");
    expect((await socket.next((e) => e.type === "message.added")).data.content).toBe("hello from e2e");
    const pong = new Promise<string>((resolve) => socket.ws.once("message", (d) => resolve(d.toString())));
    socket.ws.send("ping");
    expect(await pong).toBe("pong");
    socket.ws.close();
  });

  it("a browser-style ticket opens the socket once, and another owner's socket hears nothing", async () => {
    const token = await mint(["sessions:read", "sessions:write"]);
    const stranger = await mint(["sessions:read", "sessions:write"], "01-C-E2E-0010-P-2611-A-1");
    const ticketResponse = await api(token, "POST", "/api/v1/sessions/ws-ticket");
    expect(ticketResponse.status).toBe(201);
    const { url } = (await ticketResponse.json()) as { url: string };
    const wsUrl = url.replace(/^wss?:\/\/[^/]+/, stack.edgeUrl.replace("http", "ws"));
    const mine = connect(wsUrl);
    await mine.opened;
    await expect(connect(wsUrl).opened).rejects.toThrow("401");
    const theirs = connect(`${stack.edgeUrl.replace("http", "ws")}/api/v1/sessions/ws`, {
      authorization: `Bearer ${stranger}`,
    });
    await theirs.opened;
    expect((await api(token, "PUT", "/api/v1/context/e2e-key", { value: 42 })).status).toBe(201);
    expect((await mine.next((e) => e.type === "context.set")).data.key).toBe("e2e-key");
    expect((await api(stranger, "PUT", "/api/v1/context/theirs", { value: 1 })).status).toBe(201);
    await theirs.next((e) => e.type === "context.set");
    expect(theirs.events.map((e) => e.data.key)).toEqual(["theirs"]);
    mine.ws.close();
    theirs.ws.close();
  });

  it("status reports the Durable Object binding", async () => {
    const status = (await (await fetch(`${stack.edgeUrl}/api/v1/status`)).json()) as {
      checks: { sessions: { ok: boolean; binding: string } };
    };
    expect(status.checks.sessions).toMatchObject({ ok: true, binding: "SESSIONS" });
  });
});
