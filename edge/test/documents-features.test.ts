import {
  createExecutionContext,
  createMessageBatch,
  createScheduledController,
  getQueueResult,
} from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { signPresign } from "../src/documents/presign.ts";
import worker from "../src/index.ts";
import {
  bytesOf,
  call,
  type DocumentBody,
  env,
  expectProblem,
  jsonInit,
  objectKeys,
  party,
  quotaRow,
  randomBytes,
  sha256Hex,
  upload,
} from "./documents-helpers.ts";

const SIGNING_KEY = "test-document-url-signing-key-0123456789abcdef";
const MiB = 1024 * 1024;

async function runIndexer(
  doc: Pick<DocumentBody, "id" | "owner" | "version">,
  queue = "chittyconnect-document-index-dev",
) {
  const batch = createMessageBatch(queue, [
    {
      id: crypto.randomUUID(),
      timestamp: new Date(),
      attempts: 1,
      body: { documentId: doc.id, owner: doc.owner, version: doc.version },
    },
  ]);
  const ctx = createExecutionContext();
  await worker.queue(batch, env);
  return getQueueResult(batch, ctx);
}

async function sweep(atMs: number) {
  await worker.scheduled(createScheduledController({ scheduledTime: atMs, cron: "*/15 * * * *" }), env);
}

async function search(auth: Record<string, string>, query: string) {
  const response = await call(`/api/v1/documents?${query}`, { headers: auth });
  expect(response.status).toBe(200);
  return (await response.json()) as {
    documents: (DocumentBody & { snippet: string | null })[];
    nextCursor: string | null;
  };
}

describe("search", () => {
  it("finds by name, tag and metadata, filters by type and tag, pages with a cursor", async () => {
    const alice = await party();
    const a = await upload(alice, bytesOf("x"), {
      name: "deposition-smith.txt",
      tags: "witness,smith",
      type: "cases",
    });
    const b = await upload(alice, bytesOf("y"), {
      name: "photo.txt",
      metadata: '{"location":"Springfield warehouse"}',
    });
    await upload(alice, bytesOf("z"), { name: "unrelated.txt", tags: "witness" });
    expect((await search(alice.auth, "q=smith")).documents.map((d) => d.id)).toEqual([a.id]);
    const byMeta = await search(alice.auth, "q=springfield");
    expect(byMeta.documents.map((d) => d.id)).toEqual([b.id]);
    expect(byMeta.documents[0]?.snippet).toContain("<mark>Springfield</mark>");
    expect((await search(alice.auth, "tag=witness")).documents).toHaveLength(2);
    expect((await search(alice.auth, "tag=witness&type=cases")).documents.map((d) => d.id)).toEqual([a.id]);
    const page1 = await search(alice.auth, "limit=2");
    expect(page1.documents).toHaveLength(2);
    const page2 = await search(alice.auth, `limit=2&cursor=${page1.nextCursor}`);
    expect(page2.documents).toHaveLength(1);
    expect(page2.nextCursor).toBeNull();
    // FTS5 syntax in the query is only text.
    expect(
      (await search(alice.auth, `q=${encodeURIComponent('smith" OR name:* NEAR(')}`)).documents,
    ).toHaveLength(0);
    await expectProblem(
      await call("/api/v1/documents?q=%22%22", { headers: alice.auth }),
      400,
      "invalid_query",
    );
    await expectProblem(
      await call("/api/v1/documents?cursor=zzz", { headers: alice.auth }),
      400,
      "invalid_cursor",
    );
    await expectProblem(
      await call("/api/v1/documents?limit=1000", { headers: alice.auth }),
      400,
      "validation_failed",
    );
  });

  it("indexes text content through the queue, then finds a word that is only in the content", async () => {
    const alice = await party();
    const doc = await upload(alice, bytesOf("Minutes of the meeting: the quokka testified at noon."), {
      name: "minutes.txt",
    });
    const result = await runIndexer(doc);
    expect(result.explicitAcks).toHaveLength(1);
    const hits = await search(alice.auth, "q=quokka");
    expect(hits.documents.map((d) => d.id)).toEqual([doc.id]);
    expect(hits.documents[0]?.snippet).toContain("<mark>quokka</mark>");
    expect(hits.documents[0]?.indexStatus).toBe("indexed");
    const binary = await upload(alice, randomBytes(64), { mime: "application/octet-stream" });
    await runIndexer(binary);
    const meta = await call(`/api/v1/documents/${binary.id}`, { headers: alice.auth });
    expect(((await meta.json()) as DocumentBody).indexStatus).toBe("skipped");
  });

  it("retries a failing job, and the dead-letter consumer marks the document index_failed", async () => {
    const alice = await party();
    const doc = await upload(alice, bytesOf("soon to vanish"));
    await env.DOCUMENTS.delete(`chittyid/${alice.owner}/evidence/${doc.id}/v1`);
    const first = await runIndexer(doc);
    expect(first.retryMessages).toHaveLength(1);
    const dead = await runIndexer(doc, "chittyconnect-document-index-dlq-dev");
    expect(dead.explicitAcks).toHaveLength(1);
    const meta = await call(`/api/v1/documents/${doc.id}`, { headers: alice.auth });
    expect(((await meta.json()) as DocumentBody).indexStatus).toBe("index_failed");
  });
});

describe("presigned URLs", () => {
  it("downloads without a token until expiry, with Range", async () => {
    const alice = await party();
    const doc = await upload(alice, bytesOf("presigned bytes"));
    const response = await call(
      `/api/v1/documents/${doc.id}/presign`,
      jsonInit("POST", { expiresIn: 600 }, alice.auth),
    );
    expect(response.status).toBe(201);
    const { url, version } = (await response.json()) as { url: string; version: number };
    expect(version).toBe(1);
    const path = new URL(url).pathname;
    const got = await call(path);
    expect([got.status, await got.text()]).toEqual([200, "presigned bytes"]);
    const ranged = await call(path, { headers: { range: "bytes=0-8" } });
    expect([ranged.status, await ranged.text()]).toEqual([206, "presigned"]);
    await expectProblem(
      await call(`/api/v1/documents/${doc.id}/presign`, jsonInit("POST", { expiresIn: 3601 }, alice.auth)),
      400,
      "presign_lifetime_too_long",
    );
  });

  it("refuses tampered, expired and revoked links with 403", async () => {
    const alice = await party();
    const doc = await upload(alice, bytesOf("guarded"));
    const response = await call(
      `/api/v1/documents/${doc.id}/presign`,
      jsonInit("POST", { expiresIn: 600 }, alice.auth),
    );
    const path = new URL(((await response.json()) as { url: string }).url).pathname;
    const token = path.split("/").pop() as string;
    const flipped = token.slice(0, -1) + (token.endsWith("A") ? "B" : "A");
    await expectProblem(await call(`/api/v1/documents/presigned/${flipped}`), 403, "presign_invalid");
    const longer = token
      .replace(/\.(\d+)\./, (_m, n) => `.${n}.`)
      .replace(/\.(\d{10})\./, (_m, exp) => `.${Number(exp) + 1000}.`);
    await expectProblem(await call(`/api/v1/documents/presigned/${longer}`), 403, "presign_invalid");
    const expired = await signPresign(SIGNING_KEY, {
      owner: alice.owner,
      documentId: doc.id,
      version: 1,
      expiresAt: Math.floor(Date.now() / 1000) - 1,
    });
    await expectProblem(await call(`/api/v1/documents/presigned/${expired}`), 403, "presign_expired");
    await call(`/api/v1/documents/${doc.id}/content`, {
      method: "PUT",
      headers: { ...alice.auth, "content-type": "text/plain", "if-match": doc.etag },
      body: "replaced",
    });
    await expectProblem(await call(path), 403, "presign_invalid");
    const fresh = await call(
      `/api/v1/documents/${doc.id}/presign`,
      jsonInit("POST", { expiresIn: 60 }, alice.auth),
    );
    const freshPath = new URL(((await fresh.json()) as { url: string }).url).pathname;
    expect((await call(freshPath)).status).toBe(200);
    await call(`/api/v1/documents/${doc.id}`, { method: "DELETE", headers: alice.auth });
    await expectProblem(await call(freshPath), 403, "presign_invalid");
    await expectProblem(await call("/api/v1/documents/presigned/..%2F..%2Fetc"), 403, "presign_invalid");
  });
});

describe("sharing, access log, relationships, metadata", () => {
  it("grants read then write, lists under sharedWithMe, revokes, and logs it all", async () => {
    const alice = await party();
    const bob = await party();
    const doc = await upload(alice, bytesOf("shared content"), { name: "shared.txt" });
    const grant = (permission: string) =>
      call(
        `/api/v1/documents/${doc.id}/permissions`,
        jsonInit("POST", { grantee: bob.owner, permission }, alice.auth),
      );
    expect((await grant("read")).status).toBe(201);
    const seen = await call(`/api/v1/documents/${doc.id}/download`, { headers: bob.auth });
    expect(await seen.text()).toBe("shared content");
    expect((await search(bob.auth, "sharedWithMe=true")).documents.map((d) => [d.id, d.access])).toEqual([
      [doc.id, "read"],
    ]);
    expect((await search(bob.auth, "q=shared")).documents).toEqual([]);
    const put = () =>
      call(`/api/v1/documents/${doc.id}/content`, {
        method: "PUT",
        headers: { ...bob.auth, "content-type": "text/plain", "if-match": doc.etag },
        body: "bob was here",
      });
    await expectProblem(await put(), 403, "document_permission_denied");
    await expectProblem(
      await call(`/api/v1/documents/${doc.id}/access-log`, { headers: bob.auth }),
      403,
      "document_permission_denied",
    );
    await expectProblem(
      await call(`/api/v1/documents/${doc.id}`, { method: "DELETE", headers: bob.auth }),
      403,
      "document_permission_denied",
    );
    expect((await grant("write")).status).toBe(201);
    expect((await put()).status).toBe(200);
    // Bytes written by a grantee count against the owner's quota.
    expect(await quotaRow(alice.owner)).toEqual({ bytes_used: 14 + 12, document_count: 1 });
    await expectProblem(
      await call(
        `/api/v1/documents/${doc.id}/permissions`,
        jsonInit("POST", { grantee: alice.owner, permission: "read" }, alice.auth),
      ),
      400,
      "cannot_share_with_owner",
    );
    const revoke = await call(`/api/v1/documents/${doc.id}/permissions/${bob.owner}`, {
      method: "DELETE",
      headers: alice.auth,
    });
    expect(revoke.status).toBe(204);
    await expectProblem(
      await call(`/api/v1/documents/${doc.id}`, { headers: bob.auth }),
      404,
      "document_not_found",
    );
    await expectProblem(
      await call(`/api/v1/documents/${doc.id}/permissions/${bob.owner}`, {
        method: "DELETE",
        headers: alice.auth,
      }),
      404,
      "grant_not_found",
    );
    const log = await call(`/api/v1/documents/${doc.id}/access-log?limit=50`, { headers: alice.auth });
    const entries = ((await log.json()) as { entries: { actor: string; action: string }[] }).entries;
    expect(entries.map((e) => `${e.actor === alice.owner ? "alice" : "bob"}:${e.action}`).reverse()).toEqual([
      "alice:upload",
      "alice:share",
      "bob:download",
      "alice:share",
      "bob:write",
      "alice:unshare",
    ]);
  });

  it("patches name, metadata and tags (If-Match optional but checked) and relates documents", async () => {
    const alice = await party();
    const a = await upload(alice, bytesOf("a"));
    const b = await upload(alice, bytesOf("b"));
    const patch = await call(
      `/api/v1/documents/${a.id}`,
      jsonInit(
        "PATCH",
        { name: "renamed exhibit.txt", tags: ["exhibit-a"], metadata: { judge: "Wapner" } },
        alice.auth,
      ),
    );
    expect(patch.status).toBe(200);
    expect(await patch.json()).toMatchObject({
      name: "renamed exhibit.txt",
      tags: ["exhibit-a"],
      metadata: { judge: "Wapner" },
    });
    expect((await search(alice.auth, "q=wapner")).documents.map((d) => d.id)).toEqual([a.id]);
    expect((await search(alice.auth, "tag=exhibit-a")).documents.map((d) => d.id)).toEqual([a.id]);
    await expectProblem(
      await call(
        `/api/v1/documents/${a.id}`,
        jsonInit("PATCH", { name: "x" }, { ...alice.auth, "if-match": '"old.9"' }),
      ),
      412,
      "precondition_failed",
    );
    await expectProblem(
      await call(`/api/v1/documents/${a.id}`, jsonInit("PATCH", {}, alice.auth)),
      400,
      "validation_failed",
    );
    await expectProblem(
      await call(`/api/v1/documents/${a.id}`, jsonInit("PATCH", { name: "a/b" }, alice.auth)),
      400,
      "validation_failed",
    );
    const relate = await call(
      `/api/v1/documents/${b.id}/relationships`,
      jsonInit("POST", { targetId: a.id, kind: "supersedes" }, alice.auth),
    );
    expect(relate.status).toBe(201);
    const listed = await call(`/api/v1/documents/${a.id}/relationships`, { headers: alice.auth });
    expect(((await listed.json()) as { relationships: unknown[] }).relationships).toMatchObject([
      { sourceId: b.id, targetId: a.id, kind: "supersedes" },
    ]);
    const stranger = await party();
    const theirs = await upload(stranger, bytesOf("s"));
    await expectProblem(
      await call(
        `/api/v1/documents/${a.id}/relationships`,
        jsonInit("POST", { targetId: theirs.id, kind: "relatesTo" }, alice.auth),
      ),
      404,
      "document_not_found",
    );
    const unlink = await call(`/api/v1/documents/${b.id}/relationships/${a.id}?kind=supersedes`, {
      method: "DELETE",
      headers: alice.auth,
    });
    expect(unlink.status).toBe(204);
    await expectProblem(
      await call(`/api/v1/documents/${b.id}/relationships/${a.id}?kind=supersedes`, {
        method: "DELETE",
        headers: alice.auth,
      }),
      404,
      "relationship_not_found",
    );
  });
});

describe("multipart uploads", () => {
  async function createUpload(alice: Awaited<ReturnType<typeof party>>, size: number) {
    const response = await call(
      "/api/v1/documents/multipart",
      jsonInit(
        "POST",
        { name: "big.bin", type: "attachments", mimeType: "application/octet-stream", size, tags: ["big"] },
        alice.auth,
      ),
    );
    expect(response.status).toBe(201);
    return (await response.json()) as {
      uploadId: string;
      documentId: string;
      partSize: number;
      partCount: number;
    };
  }

  it("uploads a file larger than the single-request limit in parts, resumably", {
    timeout: 60_000,
  }, async () => {
    const alice = await party();
    const file = randomBytes(12 * MiB);
    const single = await call("/api/v1/documents/upload", {
      method: "POST",
      headers: {
        ...alice.auth,
        "content-type": "multipart/form-data; boundary=x",
        "content-length": String(file.byteLength),
      },
      body: file,
    });
    await expectProblem(single, 413, "payload_too_large");
    const created = await createUpload(alice, file.byteLength);
    expect(created).toMatchObject({ partSize: 5 * MiB, partCount: 3 });
    const part = (n: number, bytes = file.subarray((n - 1) * created.partSize, n * created.partSize)) =>
      call(`/api/v1/documents/multipart/${created.uploadId}/parts/${n}`, {
        method: "PUT",
        headers: alice.auth,
        body: bytes,
      });
    expect((await part(1)).status).toBe(200);
    // The client lost track: it asks which parts arrived and sends the rest.
    const state = await call(`/api/v1/documents/multipart/${created.uploadId}`, { headers: alice.auth });
    expect(
      ((await state.json()) as { parts: { partNumber: number }[] }).parts.map((p) => p.partNumber),
    ).toEqual([1]);
    await expectProblem(await part(2, file.subarray(0, 1000)), 400, "part_size_mismatch");
    await expectProblem(await part(4, file.subarray(0, 1000)), 400, "invalid_part_number");
    const early = await call(`/api/v1/documents/multipart/${created.uploadId}/complete`, {
      method: "POST",
      headers: alice.auth,
    });
    await expectProblem(early, 409, "upload_incomplete");
    expect((await part(3)).status).toBe(200);
    expect((await part(2)).status).toBe(200);
    const done = await call(`/api/v1/documents/multipart/${created.uploadId}/complete`, {
      method: "POST",
      headers: alice.auth,
    });
    expect(done.status).toBe(201);
    const doc = (await done.json()) as DocumentBody;
    expect(doc).toMatchObject({ id: created.documentId, size: file.byteLength, sha256: null, tags: ["big"] });
    await runIndexer(doc);
    const meta = (await (
      await call(`/api/v1/documents/${doc.id}`, { headers: alice.auth })
    ).json()) as DocumentBody;
    expect(meta.sha256).toBe(await sha256Hex(file));
    const download = await call(`/api/v1/documents/${doc.id}/download`, { headers: alice.auth });
    expect(await sha256Hex(new Uint8Array(await download.arrayBuffer()))).toBe(meta.sha256);
    expect(await quotaRow(alice.owner)).toEqual({ bytes_used: file.byteLength, document_count: 1 });
    await expectProblem(
      await call(`/api/v1/documents/multipart/${created.uploadId}`, { headers: alice.auth }),
      404,
      "upload_not_found",
    );
  });

  it("aborts an upload and releases what it reserved; others cannot touch it", async () => {
    const alice = await party();
    const mallory = await party();
    const created = await createUpload(alice, 7 * MiB);
    expect(await quotaRow(alice.owner)).toEqual({ bytes_used: 7 * MiB, document_count: 1 });
    await expectProblem(
      await call(`/api/v1/documents/multipart/${created.uploadId}`, {
        method: "DELETE",
        headers: mallory.auth,
      }),
      404,
      "upload_not_found",
    );
    const abort = await call(`/api/v1/documents/multipart/${created.uploadId}`, {
      method: "DELETE",
      headers: alice.auth,
    });
    expect(abort.status).toBe(204);
    expect(await quotaRow(alice.owner)).toEqual({ bytes_used: 0, document_count: 0 });
    await expectProblem(
      await call(`/api/v1/documents/${created.documentId}`, { headers: alice.auth }),
      404,
      "document_not_found",
    );
    await expectProblem(
      await call(
        "/api/v1/documents/multipart",
        jsonInit("POST", { name: "x", type: "cases", mimeType: "text/plain", size: 65 * MiB }, alice.auth),
      ),
      507,
      "quota_exceeded",
    );
  });
});

describe("consistency sweep", () => {
  it("removes a planted orphan object, a row whose bytes vanished, and an abandoned upload", async () => {
    const alice = await party();
    const orphanKey = `chittyid/${alice.owner}/evidence/${crypto.randomUUID()}/v1`;
    await env.DOCUMENTS.put(orphanKey, "nobody references me");
    await env.DOCUMENTS.put(`chittyid/${alice.owner}/not-ours.txt`, "left alone");
    const lost = await upload(alice, bytesOf("bytes about to vanish"));
    await env.DOCUMENTS.delete(`chittyid/${alice.owner}/evidence/${lost.id}/v1`);
    const kept = await upload(alice, bytesOf("healthy"));
    const abandoned = await call(
      "/api/v1/documents/multipart",
      jsonInit(
        "POST",
        { name: "a.bin", type: "attachments", mimeType: "application/octet-stream", size: 6 * MiB },
        alice.auth,
      ),
    );
    const { documentId } = (await abandoned.json()) as { documentId: string };
    await sweep(Date.now() + 2 * 86_400_000);
    expect((await objectKeys(alice.owner)).sort()).toEqual(
      [`chittyid/${alice.owner}/evidence/${kept.id}/v1`, `chittyid/${alice.owner}/not-ours.txt`].sort(),
    );
    await expectProblem(
      await call(`/api/v1/documents/${lost.id}`, { headers: alice.auth }),
      404,
      "document_not_found",
    );
    await expectProblem(
      await call(`/api/v1/documents/${documentId}`, { headers: alice.auth }),
      404,
      "document_not_found",
    );
    expect((await call(`/api/v1/documents/${kept.id}`, { headers: alice.auth })).status).toBe(200);
    expect(await quotaRow(alice.owner)).toEqual({ bytes_used: 7, document_count: 1 });
  });

  it("leaves young in-flight objects alone", async () => {
    const alice = await party();
    const young = `chittyid/${alice.owner}/cases/${crypto.randomUUID()}/v1`;
    await env.DOCUMENTS.put(young, "still uploading");
    await sweep(Date.now());
    expect(await objectKeys(alice.owner)).toEqual([young]);
  });
});

describe("CORS for browser uploads", () => {
  it("answers preflights for allowlisted origins only", async () => {
    const preflight = (origin: string) =>
      call("/api/v1/documents/upload", {
        method: "OPTIONS",
        headers: {
          origin,
          "access-control-request-method": "POST",
          "access-control-request-headers": "authorization",
        },
      });
    const allowed = await preflight("https://app.example.com");
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    expect(allowed.headers.get("access-control-allow-headers")).toContain("authorization");
    const denied = await preflight("https://evil.example.com");
    expect(denied.headers.get("access-control-allow-origin")).toBeNull();
    const alice = await party();
    const doc = await upload(alice, bytesOf("x"));
    const download = await call(`/api/v1/documents/${doc.id}/download`, {
      headers: { ...alice.auth, origin: "http://localhost:3000" },
    });
    expect(download.headers.get("access-control-allow-origin")).toBe("http://localhost:3000");
    expect(download.headers.get("access-control-expose-headers")).toContain("etag");
  });
});

/** Waits (up to 15 s) until the document is no longer pending, or returns when nothing consumes it. */
async function settleIndexing(id: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const row = await env.DB.prepare("SELECT index_status FROM documents WHERE id = ?")
      .bind(id)
      .first<{ index_status: string }>();
    if (row?.index_status !== "pending") return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("status", () => {
  it("reports R2 and the indexing queue, degraded when jobs are stuck", async () => {
    const report = (await (await call("/api/v1/status")).json()) as {
      checks: { r2: { ok: boolean }; queue: { ok: boolean; pending: number } };
    };
    expect(report.checks.r2.ok).toBe(true);
    expect(report.checks.queue.ok).toBe(true);
    const alice = await party();
    const doc = await upload(alice, randomBytes(8), { mime: "application/octet-stream" });
    // The upload's own queue message reaches the real consumer within a batch timeout (1 s, longer on
    // a loaded machine); let it land first, or it would mark the document indexed after the backdating.
    await settleIndexing(doc.id);
    await env.DB.prepare("UPDATE documents SET index_status = 'pending', updated_at = ? WHERE id = ?")
      .bind(new Date(Date.now() - 3_600_000).toISOString(), doc.id)
      .run();
    const stuck = (await (await call("/api/v1/status")).json()) as {
      status: string;
      checks: { queue: { ok: boolean; oldestPendingSeconds: number } };
    };
    expect(stuck.status).toBe("degraded");
    expect(stuck.checks.queue.ok).toBe(false);
    expect(stuck.checks.queue.oldestPendingSeconds).toBeGreaterThanOrEqual(3600);
    await runIndexer(doc);
    await call(`/api/v1/documents/${doc.id}`, { method: "DELETE", headers: alice.auth });
  }, 30_000);
});
