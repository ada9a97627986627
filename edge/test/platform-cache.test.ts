import { describe, expect, it } from "vitest";
import {
  type DocumentBody,
  env,
  expectProblem,
  jsonInit,
  type Party,
  party,
  upload,
} from "./documents-helpers.ts";
import { BASE } from "./helpers.ts";
import { fetchSettled } from "./platform-helpers.ts";

async function presignedPath(owner: Party, doc: DocumentBody): Promise<string> {
  const response = await fetchSettled(
    `/api/v1/documents/${doc.id}/presign`,
    jsonInit("POST", { expiresIn: 600 }, owner.auth),
  );
  expect(response.status).toBe(201);
  return new URL(((await response.json()) as { url: string }).url).pathname;
}

async function fetchText(path: string, init: RequestInit = {}) {
  const response = await fetchSettled(path, init);
  return {
    response,
    status: response.status,
    text: await response.text(),
    cache: response.headers.get("x-cache"),
  };
}

async function r2KeyOf(doc: DocumentBody, version = 1): Promise<string> {
  const row = await env.DB.prepare(
    "SELECT r2_key FROM document_versions WHERE document_id = ? AND version = ?",
  )
    .bind(doc.id, version)
    .first<{ r2_key: string }>();
  return row?.r2_key ?? "";
}

function cachedCopy(doc: DocumentBody): Promise<Response | undefined> {
  return caches.default.match(new Request(`${BASE}/__cache/documents/${doc.id}`));
}

describe("presigned downloads from the Cache API", () => {
  it("serves the second fetch from the cache, still logging the access, with the route's headers", async () => {
    const alice = await party();
    const doc = await upload(alice, new TextEncoder().encode("cached document bytes"), {
      name: "report.txt",
    });
    const path = await presignedPath(alice, doc);
    const first = await fetchText(path);
    expect([first.status, first.text, first.cache]).toEqual([200, "cached document bytes", "miss"]);
    // The bytes are gone from R2 behind the edge's back: only the cache can still answer.
    await env.DOCUMENTS.delete(await r2KeyOf(doc));
    const second = await fetchText(path);
    expect([second.status, second.text, second.cache]).toEqual([200, "cached document bytes", "hit"]);
    const h = second.response.headers;
    expect(h.get("cache-control")).toBe("private, no-cache");
    expect(h.get("etag")).toBe(doc.etag);
    expect(h.get("content-type")).toBe("text/plain");
    expect(h.get("content-disposition")).toContain('filename="report.txt"');
    expect(h.get("content-security-policy")).toBe("sandbox");
    expect(h.get("x-document-version")).toBeNull();
    expect(h.get("cf-cache-status")).toBeNull();
    const downloads = await env.DB.prepare(
      "SELECT count(*) AS n FROM document_access_log WHERE document_id = ? AND action = 'download'",
    )
      .bind(doc.id)
      .first<{ n: number }>();
    expect(downloads?.n).toBe(2);
  });

  it("never serves one owner's cached document on another owner's link", async () => {
    const alice = await party();
    const bob = await party();
    const aliceDoc = await upload(alice, new TextEncoder().encode("alice's bytes"));
    const bobDoc = await upload(bob, new TextEncoder().encode("bob's bytes"));
    const alicePath = await presignedPath(alice, aliceDoc);
    const bobPath = await presignedPath(bob, bobDoc);
    for (let round = 0; round < 2; round++) {
      expect((await fetchText(alicePath)).text).toBe("alice's bytes");
      expect((await fetchText(bobPath)).text).toBe("bob's bytes");
    }
    // A token for Bob's document with Alice's id swapped in fails its MAC, cached or not.
    const forged = bobPath.replace(bobDoc.id, aliceDoc.id);
    await expectProblem(await fetchSettled(forged), 403, "presign_invalid");
  });

  it("refuses a deleted document's link even when a copy is still cached, and purges on delete", async () => {
    const alice = await party();
    const doc = await upload(alice, new TextEncoder().encode("soon deleted"));
    const path = await presignedPath(alice, doc);
    expect((await fetchText(path)).cache).toBe("miss");
    expect((await fetchText(path)).cache).toBe("hit");
    // Deleted elsewhere (another location's cache is not purged): the revocation check still runs.
    await env.DB.prepare("UPDATE documents SET status = 'deleting' WHERE id = ?").bind(doc.id).run();
    await expectProblem(await fetchSettled(path), 403, "presign_invalid");
    await env.DB.prepare("UPDATE documents SET status = 'active' WHERE id = ?").bind(doc.id).run();
    expect((await fetchText(path)).cache).toBe("miss");
    expect(await cachedCopy(doc)).toBeDefined();
    const deleted = await fetchSettled(`/api/v1/documents/${doc.id}`, {
      method: "DELETE",
      headers: alice.auth,
    });
    expect(deleted.status).toBe(204);
    expect(await cachedCopy(doc)).toBeUndefined();
    await expectProblem(await fetchSettled(path), 403, "presign_invalid");
  });

  it("revokes the old version's link when the content is replaced, and caches the new one", async () => {
    const alice = await party();
    const doc = await upload(alice, new TextEncoder().encode("version one"));
    const oldPath = await presignedPath(alice, doc);
    await fetchText(oldPath);
    expect((await fetchText(oldPath)).cache).toBe("hit");
    const replaced = await fetchSettled(`/api/v1/documents/${doc.id}/content`, {
      method: "PUT",
      headers: { ...alice.auth, "content-type": "text/plain", "content-length": "11", "if-match": doc.etag },
      body: "version two",
    });
    expect(replaced.status).toBe(200);
    await expectProblem(await fetchSettled(oldPath), 403, "presign_invalid");
    const newPath = await presignedPath(alice, { ...doc, version: 2 });
    expect(await fetchText(newPath)).toMatchObject({ text: "version two", cache: "miss" });
    expect(await fetchText(newPath)).toMatchObject({ text: "version two", cache: "hit" });
  });

  it("answers Range and If-None-Match from the route, never from or into the cache", async () => {
    const alice = await party();
    const doc = await upload(alice, new TextEncoder().encode("0123456789"));
    const path = await presignedPath(alice, doc);
    const ranged = await fetchText(path, { headers: { range: "bytes=2-4" } });
    expect([ranged.status, ranged.text, ranged.cache]).toEqual([206, "234", null]);
    expect(await cachedCopy(doc)).toBeUndefined();
    await fetchText(path);
    const rangedAfter = await fetchText(path, { headers: { range: "bytes=-3" } });
    expect([rangedAfter.status, rangedAfter.text, rangedAfter.cache]).toEqual([206, "789", null]);
    const conditional = await fetchSettled(path, { headers: { "if-none-match": doc.etag } });
    expect(conditional.status).toBe(304);
    expect((await fetchText(path)).cache).toBe("hit");
  });
});
