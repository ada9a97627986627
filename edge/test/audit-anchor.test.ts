import { exports } from "cloudflare:workers";
import { importSigningKey, signRequest } from "@chittyconnect/contract";
import { describe, expect, it } from "vitest";
import { AnchorClient, AnchorConflictError } from "../../origin/src/audit/anchor.ts";
import { TEST_SIGNING_KEY } from "./fake-origin.ts";
import { BASE, call, env } from "./helpers.ts";

const key = await importSigningKey(TEST_SIGNING_KEY);
const hash = (digit: string) => digit.repeat(64);
const instance = () => `origin-${crypto.randomUUID().slice(0, 8)}`;

/** The origin's own client, talking to the Worker's real fetch handler inside workerd. */
const client = (signingKey = key) =>
  new AnchorClient({
    edgeUrl: BASE,
    key: signingKey,
    timeoutMs: 5000,
    fetch: (input, init) => exports.default.fetch(new Request(input, init)),
  });

async function signedPost(body: unknown, owner: string, headers: Record<string, string> = {}) {
  const url = `${BASE}/api/v1/internal/audit-anchor`;
  const text = JSON.stringify(body);
  const signed = await signRequest({ method: "POST", url, body: text, owner, services: [], key });
  return call("/api/v1/internal/audit-anchor", {
    method: "POST",
    headers: { "content-type": "application/json", ...signed, ...headers },
    body: text,
  });
}

describe("audit anchors (origin → edge)", () => {
  it("stores the head an origin reports and moves it only forward", async () => {
    const id = instance();
    const edge = client();
    expect(await edge.fetch(id)).toBeUndefined();
    expect(await edge.report({ instance: id, seq: 10, hash: hash("a") })).toMatchObject({
      instance: id,
      seq: 10,
    });
    expect(await edge.report({ instance: id, seq: 25, hash: hash("b") })).toMatchObject({
      seq: 25,
      hash: hash("b"),
    });
    // A retried report of the same head is fine.
    expect(await edge.report({ instance: id, seq: 25, hash: hash("b") })).toMatchObject({ seq: 25 });
    expect(await edge.fetch(id)).toMatchObject({
      instance: id,
      seq: 25,
      hash: hash("b"),
      reportedAt: expect.any(String),
    });

    const row = await env.DB.prepare("SELECT seq, hash FROM audit_anchors WHERE instance = ?")
      .bind(id)
      .first();
    expect(row).toEqual({ seq: 25, hash: hash("b") });
  });

  it("refuses a head that goes back or forks (409 audit_anchor_conflict, with the held head)", async () => {
    const id = instance();
    await client().report({ instance: id, seq: 50, hash: hash("c") });
    for (const head of [
      { instance: id, seq: 49, hash: hash("c") },
      { instance: id, seq: 50, hash: hash("d") },
    ]) {
      const error = await client()
        .report(head)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AnchorConflictError);
      expect((error as AnchorConflictError).anchor).toMatchObject({ seq: 50, hash: hash("c") });
    }
    const raw = await signedPost({ instance: id, seq: 1, hash: hash("e") }, id);
    expect(raw.status).toBe(409);
    expect(await raw.json()).toMatchObject({ code: "audit_anchor_conflict", anchor: { seq: 50 } });
    expect(await client().fetch(id)).toMatchObject({ seq: 50, hash: hash("c") });
  });

  it("keeps one head per instance: replicas do not overwrite each other", async () => {
    const [a, b] = [instance(), instance()];
    await client().report({ instance: a, seq: 7, hash: hash("1") });
    await client().report({ instance: b, seq: 3, hash: hash("2") });
    expect(await client().fetch(a)).toMatchObject({ seq: 7 });
    expect(await client().fetch(b)).toMatchObject({ seq: 3 });
  });

  it("accepts only requests the origin signed, for the instance they name", async () => {
    const id = instance();
    const unsigned = await call("/api/v1/internal/audit-anchor", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ instance: id, seq: 1, hash: hash("a") }),
    });
    expect(unsigned.status).toBe(401);
    expect(await unsigned.json()).toMatchObject({ code: "unauthorized" });

    const wrongKey = await importSigningKey("some-other-signing-key-0123456789abcdef");
    await expect(client(wrongKey).report({ instance: id, seq: 1, hash: hash("a") })).rejects.toThrow(/401/);
    await expect(client(wrongKey).fetch(id)).rejects.toThrow(/401/);

    const mismatch = await signedPost({ instance: instance(), seq: 1, hash: hash("a") }, id);
    expect(mismatch.status).toBe(403);
    expect(await mismatch.json()).toMatchObject({ code: "anchor_instance_mismatch" });

    // Signed for one instance, asking for another's head.
    const url = `${BASE}/api/v1/internal/audit-anchor/${instance()}`;
    const signed = await signRequest({ method: "GET", url, owner: id, services: [], key });
    expect((await call(new URL(url).pathname, { headers: signed })).status).toBe(401);
  });

  it("refuses a replayed report", async () => {
    const id = instance();
    const url = `${BASE}/api/v1/internal/audit-anchor`;
    const body = JSON.stringify({ instance: id, seq: 1, hash: hash("a") });
    const signed = await signRequest({ method: "POST", url, body, owner: id, services: [], key });
    const init = { method: "POST", headers: { "content-type": "application/json", ...signed }, body };
    expect((await call("/api/v1/internal/audit-anchor", init)).status).toBe(200);
    expect((await call("/api/v1/internal/audit-anchor", init)).status).toBe(401);
  });

  it("validates the report", async () => {
    const id = instance();
    for (const body of [
      { instance: id, seq: -1, hash: hash("a") },
      { instance: id, seq: 1, hash: "abc" },
      { instance: id, seq: 1, hash: hash("a"), extra: true },
    ]) {
      const response = await signedPost(body, id);
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ code: "validation_failed" });
    }
    const text = await signedPost({ instance: id, seq: 1, hash: hash("a") }, id, {
      "content-type": "text/plain",
    });
    expect(text.status).toBe(415);
  });
});
