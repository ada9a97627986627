import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { app } from "../src/index.ts";
import type { UsageReport } from "../src/usage/schemas.ts";
import { formRequest, randomBytes } from "./documents-helpers.ts";
import { BASE, bearer, jsonInit, mintToken, uniqueOwner } from "./helpers.ts";

const PATIENT = { ORIGIN_TIMEOUT_MS: "30000" };

interface Sent {
  status: number;
  bytes: number;
  text: string;
  cache: string | null;
}

/**
 * One request through the Worker as a client makes it: the answer is read to its end, then the work
 * the Worker left for after the answer (the ledger entry) is awaited.
 */
async function send(
  path: string,
  init: RequestInit = {},
  overrides: Record<string, unknown> = {},
): Promise<Sent> {
  const ctx = createExecutionContext();
  const response = await app.fetch(
    new Request(`${BASE}${path}`, init),
    { ...env, ...PATIENT, ...overrides },
    ctx,
  );
  const body = new Uint8Array(await response.arrayBuffer());
  await waitOnExecutionContext(ctx);
  return {
    status: response.status,
    bytes: body.byteLength,
    text: new TextDecoder().decode(body),
    cache: response.headers.get("x-cache"),
  };
}

async function usage(token: string, query = ""): Promise<{ status: number; body: UsageReport }> {
  const ctx = createExecutionContext();
  const response = await app.fetch(
    new Request(`${BASE}/api/v1/usage${query}`, { headers: bearer(token) }),
    { ...env },
    ctx,
  );
  const body = (await response.json()) as UsageReport;
  await waitOnExecutionContext(ctx);
  return { status: response.status, body };
}

const ALL_SCOPES = [
  "sessions:read",
  "sessions:write",
  "documents:read",
  "documents:write",
  "credentials:provision",
  "usage:read",
];
const today = () => new Date().toISOString().slice(0, 10);

describe("the usage ledger", () => {
  it("is exact after 40 concurrent mixed requests: requests by class, bytes in and out", async () => {
    const { token } = await mintToken(uniqueOwner(), ALL_SCOPES);
    const auth = bearer(token);
    const context = (i: number) => jsonInit("PUT", { value: { i, pad: "x".repeat(i) } }, auth);
    const requests: Array<[string, RequestInit]> = [
      ...Array.from({ length: 12 }, (): [string, RequestInit] => ["/api/v1/sessions", { headers: auth }]),
      ...Array.from({ length: 10 }, (_, i): [string, RequestInit] => [`/api/v1/context/k${i}`, context(i)]),
      ...Array.from({ length: 10 }, (): [string, RequestInit] => ["/api/v1/documents", { headers: auth }]),
      ...Array.from({ length: 8 }, (): [string, RequestInit] => [
        "/api/v1/credentials/audit?limit=2",
        { headers: auth },
      ]),
    ];
    const sent: Sent[] = await Promise.all(requests.map(([path, init]) => send(path, init)));
    expect(sent.every((s) => s.status < 300)).toBe(true);
    const bytesIn = requests.reduce(
      (sum, [, init]) => sum + new TextEncoder().encode(String(init.body ?? "")).byteLength,
      0,
    );

    const { status, body } = await usage(token);
    expect(status).toBe(200);
    expect(body.totals).toEqual({
      requests: 40,
      limited: 0,
      bytesIn,
      bytesOut: sent.reduce((sum, s) => sum + s.bytes, 0),
      credentialsProvisioned: 0,
      requestsByRouteClass: { sessions: 22, documents: 10, credentials: 8 },
    });
    expect(body.days).toEqual([{ day: today(), ...body.totals }]);
  }, 60_000);

  it("counts a known upload and download byte for byte, and the bytes stored now", async () => {
    const { token } = await mintToken(uniqueOwner(), ALL_SCOPES);
    const file = randomBytes(100_000);
    const init = await formRequest({ auth: bearer(token) }, file, {
      mime: "application/octet-stream",
      name: "a.bin",
    });
    const formLength = Number((init.headers as Record<string, string>)["content-length"]);
    const uploaded = await send("/api/v1/documents/upload", init);
    expect(uploaded.status).toBe(201);
    const { id } = JSON.parse(uploaded.text) as { id: string };
    const downloaded = await send(`/api/v1/documents/${id}/download`, { headers: bearer(token) });
    expect(downloaded.status).toBe(200);
    expect(downloaded.bytes).toBe(file.byteLength);

    const { body } = await usage(token);
    expect(body.totals.bytesIn).toBe(formLength);
    expect(body.totals.bytesOut).toBe(uploaded.bytes + downloaded.bytes);
    expect(body.totals.requestsByRouteClass).toEqual({ documents: 2 });
    expect(body.current.bytesStored).toBe(file.byteLength);
    expect(body.current.documents).toBe(1);
  }, 60_000);

  it("counts presigned downloads, from R2 and from the cache, for the document's owner; a forged link for no one", async () => {
    const { token } = await mintToken(uniqueOwner(), ALL_SCOPES);
    const file = randomBytes(2_000);
    const uploaded = await send(
      "/api/v1/documents/upload",
      await formRequest({ auth: bearer(token) }, file, { mime: "application/octet-stream", name: "p.bin" }),
    );
    expect(uploaded.status).toBe(201);
    const { id } = JSON.parse(uploaded.text) as { id: string };
    const presigned = await send(
      `/api/v1/documents/${id}/presign`,
      jsonInit("POST", { expiresIn: 300 }, bearer(token)),
    );
    expect(presigned.status).toBe(201);
    const path = new URL((JSON.parse(presigned.text) as { url: string }).url).pathname;
    const first = await send(path);
    const second = await send(path);
    expect([first.status, second.status]).toEqual([200, 200]);
    expect([first.cache, second.cache]).toEqual(["miss", "hit"]);
    expect([first.bytes, second.bytes]).toEqual([file.byteLength, file.byteLength]);
    const forged = await send(`${path.slice(0, -4)}AAAA`);
    expect(forged.status).toBe(403);

    const { body } = await usage(token);
    // upload, presign, two downloads; the forged link belongs to no ledger
    expect(body.totals.requestsByRouteClass).toEqual({ documents: 4 });
    expect(body.totals.bytesOut).toBe(uploaded.bytes + presigned.bytes + 2 * file.byteLength);
  }, 60_000);

  it("counts successful provisions, refused (429) requests, and the sessions active now", async () => {
    const { token } = await mintToken(uniqueOwner(), ALL_SCOPES);
    const provision = () =>
      send(
        "/api/v1/credentials/provision",
        jsonInit(
          "POST",
          { service: "billing", credentialPath: "services/chittyid/service_token", purpose: "test" },
          bearer(token),
        ),
      );
    expect((await provision()).status).toBe(200);
    expect((await provision()).status).toBe(200);
    const badBody = await send(
      "/api/v1/credentials/provision",
      jsonInit("POST", { service: "billing" }, bearer(token)),
    );
    expect(badBody.status).toBe(400);
    for (const id of ["one", "two"]) {
      expect((await send("/api/v1/sessions", jsonInit("POST", { id }, bearer(token)))).status).toBe(201);
    }
    const tight = { RATE_LIMIT_DOCUMENTS_PER_MINUTE: "1" };
    expect((await send("/api/v1/documents", { headers: bearer(token) }, tight)).status).toBe(200);
    expect((await send("/api/v1/documents", { headers: bearer(token) }, tight)).status).toBe(429);

    const { body } = await usage(token);
    expect(body.totals).toMatchObject({
      requests: 7,
      limited: 1,
      credentialsProvisioned: 2,
      requestsByRouteClass: { credentials: 3, sessions: 2, documents: 2 },
    });
    expect(body.current.sessionsActive).toBe(2);
  }, 60_000);

  it("shows each owner only its own usage", async () => {
    const [a, b] = await Promise.all([
      mintToken(uniqueOwner(), ALL_SCOPES),
      mintToken(uniqueOwner(), ALL_SCOPES),
    ]);
    for (let i = 0; i < 3; i++) await send("/api/v1/sessions", { headers: bearer(a.token) });
    const ofA = await usage(a.token);
    const ofB = await usage(b.token);
    expect(ofA.body.owner).toBe(a.owner);
    expect(ofA.body.totals.requests).toBe(3);
    expect(ofB.body.owner).toBe(b.owner);
    expect(ofB.body.days).toEqual([]);
    expect(ofB.body.totals.requests).toBe(0);
    // No parameter names an owner; an X-ChittyID of another owner is refused outright.
    const other = await send("/api/v1/usage", { headers: bearer(b.token, { "x-chittyid": a.owner }) });
    expect(other.status).toBe(403);
  });

  it("requires the usage:read scope", async () => {
    const { token } = await mintToken(uniqueOwner(), ["sessions:read"]);
    const refused = await send("/api/v1/usage", { headers: bearer(token) });
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.text)).toMatchObject({ code: "insufficient_scope" });
  });

  it("defaults to the last 30 days and validates the range", async () => {
    const { token } = await mintToken(uniqueOwner(), ["usage:read"]);
    const { body } = await usage(token);
    expect(body.to).toBe(today());
    expect((Date.parse(body.to) - Date.parse(body.from)) / 86_400_000).toBe(29);
    expect((await usage(token, "?from=2025-01-01&to=2026-01-01")).body).toMatchObject({
      from: "2025-01-01",
      to: "2026-01-01",
    });
    expect((await usage(token, "?to=2026-03-01")).body).toMatchObject({
      from: "2026-01-31",
      to: "2026-03-01",
    });
    for (const [query, path] of [
      ["?from=2026-02-30", "from"],
      ["?from=2026-1-01", "from"],
      ["?to=yesterday", "to"],
      ["?from=2026-03-02&to=2026-03-01", "from"],
      ["?from=2024-01-01&to=2025-01-01", "to"],
    ]) {
      const refused = await send(`/api/v1/usage${query}`, { headers: bearer(token) });
      expect(refused.status, query).toBe(400);
      const problem = JSON.parse(refused.text) as { code: string; errors: Array<{ path: string }> };
      expect(problem.code).toBe("validation_failed");
      expect(problem.errors[0]?.path).toBe(path);
    }
  });
});
