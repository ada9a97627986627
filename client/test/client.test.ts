import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { CompactEncrypt, importJWK } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ChittyNetworkError, ChittyProblemError, createClient } from "../src/index.ts";

type Handler = (request: IncomingMessage, body: string, response: ServerResponse) => void | Promise<void>;

/** A stand-in edge on a free loopback port; each test queues the answers it wants, in order. */
let server: Server;
let baseUrl: string;
let handlers: Handler[] = [];
const seen: { method: string; url: string; headers: IncomingMessage["headers"]; body: string }[] = [];

beforeAll(async () => {
  server = createServer(async (request, response) => {
    let body = "";
    for await (const chunk of request) body += chunk;
    seen.push({ method: request.method ?? "", url: request.url ?? "", headers: request.headers, body });
    const handler = handlers.shift();
    if (!handler) {
      response.writeHead(500).end("no handler queued");
      return;
    }
    await handler(request, body, response);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
afterEach(() => {
  handlers = [];
  seen.length = 0;
});

const problem =
  (status: number, code: string, headers: Record<string, string> = {}): Handler =>
  (_request, _body, response) => {
    response.writeHead(status, { "content-type": "application/problem+json", ...headers });
    response.end(
      JSON.stringify({
        type: "about:blank",
        title: `title ${code}`,
        status,
        code,
        detail: `detail ${code}`,
        requestId: `req-${code}`,
      }),
    );
  };
const json =
  (status: number, body: unknown): Handler =>
  (_request, _body, response) => {
    response.writeHead(status, { "content-type": "application/json" });
    response.end(JSON.stringify(body));
  };
const lease = { id: "lease-1", issuedAt: "2026-11-29T05:36:32.185Z", expiresAt: "2026-11-29T05:51:32.185Z" };
const fast = { retryPolicy: { baseMs: 1, capMs: 5 } };

describe("createClient", () => {
  it("sends the bearer token and returns typed data", async () => {
    handlers.push(json(200, { entries: [], nextBefore: null }));
    const edge = createClient({ baseUrl, token: "cc_test" });
    expect(await edge.credentials.audit({ limit: 5 })).toEqual({ entries: [], nextBefore: null });
    expect(seen[0]?.url).toBe("/api/v1/credentials/audit?limit=5");
    expect(seen[0]?.headers.authorization).toBe("Bearer cc_test");
  });

  it("turns a problem into a ChittyProblemError with status, code, title, detail and requestId", async () => {
    handlers.push(problem(403, "policy_denied"));
    const edge = createClient({ baseUrl, token: "cc_test" });
    const error = await edge.credentials.audit().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ChittyProblemError);
    expect(error).toMatchObject({
      status: 403,
      code: "policy_denied",
      title: "title policy_denied",
      detail: "detail policy_denied",
      requestId: "req-policy_denied",
    });
  });

  it("an answer that is not a problem becomes http_<status>, with the x-request-id header", async () => {
    handlers.push((_q, _b, response) => {
      response
        .writeHead(418, { "content-type": "text/html", "x-request-id": "from-header" })
        .end("<h1>teapot</h1>");
    });
    const error = await createClient({ baseUrl })
      .status()
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 418, code: "http_418", requestId: "from-header" });
    expect((error as Error).message).not.toContain("teapot");
  });

  it("retries 503 after Retry-After, then succeeds", async () => {
    handlers.push(
      problem(503, "connect_unavailable", { "retry-after": "0" }),
      json(200, { status: "ok", checks: {} }),
    );
    const retries: number[] = [];
    const edge = createClient({ baseUrl, ...fast, onRetry: ({ attempt }) => retries.push(attempt) });
    expect(await edge.status()).toEqual({ status: "ok", checks: {} });
    expect(seen).toHaveLength(2);
    expect(retries).toEqual([0]);
  });

  it("gives up after `retries` and reports the last problem", async () => {
    handlers.push(
      problem(504, "origin_timeout"),
      problem(502, "origin_unavailable"),
      problem(503, "overloaded"),
    );
    const error = await createClient({ baseUrl, retries: 2, ...fast })
      .status()
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 503, code: "overloaded" });
    expect(seen).toHaveLength(3);
  });

  it("does not wait for a Retry-After beyond the policy's limit", async () => {
    handlers.push(problem(503, "audit_disk_full", { "retry-after": "3600" }));
    const error = await createClient({ baseUrl, ...fast })
      .status()
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 503, retryAfter: "3600" });
    expect(seen).toHaveLength(1);
  });

  it("never retries a 502 or 504 of a POST without an Idempotency-Key", async () => {
    handlers.push(problem(504, "origin_timeout"));
    const edge = createClient({ baseUrl, token: "adm", ...fast });
    const error = await edge.tokens.mint({ owner: "o", scopes: ["usage:read"] }).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 504 });
    expect(seen).toHaveLength(1);
  });

  it("retries rotate under one generated Idempotency-Key, resending the same body", async () => {
    handlers.push(
      problem(504, "origin_timeout"),
      json(200, { credentialPath: "a/b/c", sealed: false, value: "v2", lease, version: 2, replayed: true }),
    );
    const edge = createClient({ baseUrl, token: "cc", ...fast });
    const rotated = await edge.credentials.rotate({
      service: "s",
      credentialPath: "a/b/c",
      purpose: "p",
      seal: false,
    });
    expect(rotated).toMatchObject({ value: "v2", version: 2, replayed: true, sealed: false });
    expect(seen).toHaveLength(2);
    const [first, second] = seen;
    expect(first?.headers["idempotency-key"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(second?.headers["idempotency-key"]).toBe(first?.headers["idempotency-key"]);
    expect(second?.body).toBe(first?.body);
    expect(JSON.parse(first?.body ?? "{}")).toEqual({ service: "s", credentialPath: "a/b/c", purpose: "p" });
  });

  it("a fresh Idempotency-Key per call", async () => {
    const answer = json(200, { credentialPath: "a/b/c", sealed: false, value: "v", lease });
    handlers.push(answer, answer);
    const edge = createClient({ baseUrl, token: "cc" });
    for (let i = 0; i < 2; i++)
      await edge.credentials.provision({ service: "s", credentialPath: "a/b/c", purpose: "p", seal: false });
    expect(seen[0]?.headers["idempotency-key"]).not.toBe(seen[1]?.headers["idempotency-key"]);
  });

  it("times out an attempt that gets no answer, as a ChittyNetworkError", async () => {
    handlers.push(() => new Promise(() => {}));
    const error = await createClient({ baseUrl, timeoutMs: 200, retries: 0 })
      .status()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ChittyNetworkError);
    expect(error).toMatchObject({ kind: "timeout" });
  });

  it("retries a GET that times out, then succeeds", async () => {
    handlers.push(() => new Promise(() => {}), json(200, { status: "healthy" }));
    expect(await createClient({ baseUrl, timeoutMs: 200, ...fast }).health()).toEqual({ status: "healthy" });
  });

  it("a refused connection is `unreachable` with its system code", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const error = await createClient({ baseUrl: `http://127.0.0.1:${port}`, ...fast })
      .health()
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ name: "ChittyNetworkError", kind: "unreachable", reason: "ECONNREFUSED" });
  });

  it("seals by default: sends a P-256 public key only, and opens the JWE made for it", async () => {
    handlers.push(async (_request, body, response) => {
      const { recipientPublicKey } = JSON.parse(body) as { recipientPublicKey: Record<string, string> };
      const key = await importJWK(recipientPublicKey, "ECDH-ES");
      const jwe = await new CompactEncrypt(new TextEncoder().encode("the-secret-value"))
        .setProtectedHeader({ alg: "ECDH-ES", enc: "A256GCM" })
        .encrypt(key);
      await json(200, { credentialPath: "a/b/c", sealed: true, jwe, lease, version: 3 })(
        _request,
        body,
        response,
      );
    });
    const edge = createClient({ baseUrl, token: "cc" });
    const credential = await edge.credentials.provision({
      service: "s",
      credentialPath: "a/b/c",
      purpose: "p",
    });
    expect(credential).toEqual({
      credentialPath: "a/b/c",
      value: "the-secret-value",
      sealed: true,
      lease,
      version: 3,
    });
    const sent = JSON.parse(seen[0]?.body ?? "{}") as { recipientPublicKey: Record<string, string> };
    expect(Object.keys(sent.recipientPublicKey).sort()).toEqual(["crv", "kty", "x", "y"]);
    expect(sent.recipientPublicKey.crv).toBe("P-256");
  });

  it("refuses a JWE it cannot open (another key)", async () => {
    handlers.push(async (request, body, response) => {
      const { generateKeyPair } = await import("jose");
      const other = await generateKeyPair("ECDH-ES", { crv: "P-256" });
      const jwe = await new CompactEncrypt(new TextEncoder().encode("x"))
        .setProtectedHeader({ alg: "ECDH-ES", enc: "A256GCM" })
        .encrypt(other.publicKey);
      await json(200, { credentialPath: "a/b/c", sealed: true, jwe, lease })(request, body, response);
    });
    await expect(
      createClient({ baseUrl, token: "cc" }).credentials.provision({
        service: "s",
        credentialPath: "a/b/c",
        purpose: "p",
      }),
    ).rejects.toThrow();
  });
});

describe("documents", () => {
  it("download sends Range, If-None-Match and ?version=, and hands back the unread Response", async () => {
    handlers.push((_request, _body, response) => {
      response.writeHead(206, { "content-type": "text/markdown", "content-range": "bytes 0-4/11" });
      response.end("hello");
    });
    const edge = createClient({ baseUrl, token: "cc_test" });
    const answer = await edge.documents.download("doc-1", {
      version: 2,
      range: "bytes=0-4",
      ifNoneMatch: '"e1"',
    });
    expect([answer.status, answer.headers.get("content-range"), await answer.text()]).toEqual([
      206,
      "bytes 0-4/11",
      "hello",
    ]);
    expect(seen[0]?.url).toBe("/api/v1/documents/doc-1/download?version=2");
    expect(seen[0]?.headers).toMatchObject({
      authorization: "Bearer cc_test",
      range: "bytes=0-4",
      "if-none-match": '"e1"',
    });
  });

  it("download returns a 304 as an answer and throws any other refusal as a problem", async () => {
    handlers.push((_request, _body, response) => {
      response.writeHead(304, { etag: '"e1"' }).end();
    });
    handlers.push(problem(404, "document_not_found"));
    const edge = createClient({ baseUrl, token: "cc_test" });
    expect((await edge.documents.download("doc-1", { ifNoneMatch: '"e1"' })).status).toBe(304);
    expect(seen[0]?.url).toBe("/api/v1/documents/doc-1/download");
    await expect(edge.documents.download("missing")).rejects.toMatchObject({
      status: 404,
      code: "document_not_found",
    });
  });

  it("upload sends one multipart form with type, tags and metadata, and the file as the last part", async () => {
    handlers.push(json(201, { id: "doc-1" }));
    const edge = createClient({ baseUrl, token: "cc_test" });
    await edge.documents.upload({
      file: new File(["# notes"], "notes.md", { type: "text/markdown" }),
      type: "evidence",
      tags: ["a", "b"],
      metadata: { case: "c-1" },
    });
    const form = await new Request("http://x", {
      method: "POST",
      headers: { "content-type": String(seen[0]?.headers["content-type"]) },
      body: seen[0]?.body,
    }).formData();
    const order: string[] = [];
    form.forEach((_value, key) => {
      order.push(key);
    });
    expect(order).toEqual(["type", "metadata", "tags", "file"]);
    const file = form.get("file") as File;
    expect([file.name, file.type, await file.text()]).toEqual(["notes.md", "text/markdown", "# notes"]);
    expect([form.get("type"), form.get("tags"), form.get("metadata")]).toEqual([
      "evidence",
      "a,b",
      '{"case":"c-1"}',
    ]);
  });
});
