import { describe, expect, it } from "vitest";
import {
  bytesOf,
  call,
  env,
  expectProblem,
  formRequest,
  objectKeys,
  party,
  quotaRow,
  randomBytes,
  sha256Hex,
  upload,
} from "./documents-helpers.ts";

describe("upload and read", () => {
  it("streams an upload into R2 with its SHA-256 and serves it back", async () => {
    const alice = await party();
    const file = bytesOf("hello documents\n");
    const doc = await upload(alice, file, { tags: "case-1,alpha", metadata: '{"court":"Cook County"}' });
    expect(doc).toMatchObject({
      owner: alice.owner,
      type: "evidence",
      name: "report.txt",
      mimeType: "text/plain",
      size: file.byteLength,
      sha256: await sha256Hex(file),
      version: 1,
      tags: ["alpha", "case-1"],
      metadata: { court: "Cook County" },
      access: "owner",
    });
    expect(await objectKeys(alice.owner)).toEqual([`chittyid/${alice.owner}/evidence/${doc.id}/v1`]);
    const meta = await call(`/api/v1/documents/${doc.id}`, { headers: alice.auth });
    expect(meta.status).toBe(200);
    const download = await call(`/api/v1/documents/${doc.id}/download`, { headers: alice.auth });
    expect(download.status).toBe(200);
    expect(download.headers.get("etag")).toBe(doc.etag);
    expect(download.headers.get("content-disposition")).toBe(
      `attachment; filename="report.txt"; filename*=UTF-8''report.txt`,
    );
    expect(download.headers.get("content-type")).toBe("text/plain");
    expect(new Uint8Array(await download.arrayBuffer())).toEqual(file);
    expect(await quotaRow(alice.owner)).toEqual({ bytes_used: file.byteLength, document_count: 1 });
  });

  it("keeps a client's path out of names and keys", async () => {
    const alice = await party();
    const doc = await upload(alice, bytesOf("x"), { name: "../../other-owner/evidence/secret.txt" });
    expect(doc.name).toBe("secret.txt");
    expect(await objectKeys(alice.owner)).toEqual([`chittyid/${alice.owner}/evidence/${doc.id}/v1`]);
    const traversal = await call("/api/v1/documents/..%2F..%2Fx/download", { headers: alice.auth });
    await expectProblem(traversal, 404, "document_not_found");
  });

  it("refuses what it cannot store correctly", async () => {
    const alice = await party();
    const noType = await call(
      "/api/v1/documents/upload",
      await formRequest(alice, bytesOf("x"), { type: "" }),
    );
    await expectProblem(noType, 400, "validation_failed");
    const badType = await call(
      "/api/v1/documents/upload",
      await formRequest(alice, bytesOf("x"), { type: "../x" }),
    );
    await expectProblem(badType, 400, "validation_failed");
    const late = await call(
      "/api/v1/documents/upload",
      await formRequest(alice, bytesOf("x"), { trailingField: true }),
    );
    await expectProblem(late, 400, "invalid_form");
    const badMeta = await call(
      "/api/v1/documents/upload",
      await formRequest(alice, bytesOf("x"), { metadata: "{" }),
    );
    await expectProblem(badMeta, 400, "invalid_form");
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0]);
    const liar = await call(
      "/api/v1/documents/upload",
      await formRequest(alice, png, { name: "x.pdf", mime: "application/pdf" }),
    );
    await expectProblem(liar, 415, "mime_mismatch");
    const notForm = await call("/api/v1/documents/upload", {
      method: "POST",
      headers: { ...alice.auth, "content-type": "application/json", "content-length": "2" },
      body: "{}",
    });
    await expectProblem(notForm, 415, "unsupported_media_type");
    const init = await formRequest(alice, bytesOf("x"));
    const { "content-length": _, ...withoutLength } = init.headers as Record<string, string>;
    const noLength = await call("/api/v1/documents/upload", {
      ...init,
      headers: withoutLength,
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(init.body as Uint8Array);
          controller.close();
        },
      }),
    });
    await expectProblem(noLength, 411, "length_required");
    const big = await call(
      "/api/v1/documents/upload",
      await formRequest(alice, randomBytes(6 * 1024 * 1024 + 1)),
    );
    await expectProblem(big, 413, "payload_too_large");
    // Nothing of the refused uploads was kept, and nothing of the quota is held.
    expect(await objectKeys(alice.owner)).toEqual([]);
    expect((await quotaRow(alice.owner)) ?? { bytes_used: 0, document_count: 0 }).toMatchObject({
      bytes_used: 0,
      document_count: 0,
    });
  });

  it("undoes the reservation and the pending row when the body breaks off mid-stream", async () => {
    const alice = await party();
    const init = await formRequest(alice, randomBytes(256 * 1024));
    const whole = init.body as Uint8Array;
    // The sender promises the whole form but stops after 100 KiB (a dropped connection).
    const broken = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(whole.slice(0, 100 * 1024));
        controller.close();
      },
    });
    const response = await call("/api/v1/documents/upload", { ...init, body: broken });
    await expectProblem(response, 400, "invalid_form");
    expect(await objectKeys(alice.owner)).toEqual([]);
    expect(await quotaRow(alice.owner)).toEqual({ bytes_used: 0, document_count: 0 });
    const rows = await env.DB.prepare("SELECT count(*) AS n FROM documents WHERE owner = ?")
      .bind(alice.owner)
      .first<{ n: number }>();
    expect(rows?.n).toBe(0);
  });

  it("needs a token with a documents scope", async () => {
    const reader = await party(["documents:read"]);
    const denied = await call("/api/v1/documents/upload", await formRequest(reader, bytesOf("x")));
    await expectProblem(denied, 403, "insufficient_scope");
    const anonymous = await call("/api/v1/documents?q=x");
    await expectProblem(anonymous, 401, "unauthorized");
  });
});

describe("download: Range, ETag, versions", () => {
  const text = bytesOf("0123456789abcdefghij");

  it("serves single ranges and refuses unsatisfiable ones", async () => {
    const alice = await party();
    const doc = await upload(alice, text);
    const get = (range: string) =>
      call(`/api/v1/documents/${doc.id}/download`, { headers: { ...alice.auth, range } });
    const first = await get("bytes=0-9");
    expect(first.status).toBe(206);
    expect(first.headers.get("content-range")).toBe("bytes 0-9/20");
    expect(await first.text()).toBe("0123456789");
    const suffix = await get("bytes=-5");
    expect([suffix.status, await suffix.text()]).toEqual([206, "fghij"]);
    const open = await get("bytes=15-");
    expect([open.status, open.headers.get("content-range"), await open.text()]).toEqual([
      206,
      "bytes 15-19/20",
      "fghij",
    ]);
    const clipped = await get("bytes=18-1000");
    expect([clipped.status, await clipped.text()]).toEqual([206, "ij"]);
    const past = await get("bytes=20-");
    const problem = await expectProblem(past, 416, "range_not_satisfiable");
    expect(problem.status).toBe(416);
    expect(past.headers.get("content-range")).toBe("bytes */20");
    const many = await get("bytes=0-1,4-5");
    expect([many.status, await many.text()]).toEqual([200, "0123456789abcdefghij"]);
    const junk = await get("lines=1-2");
    expect(junk.status).toBe(200);
    await junk.arrayBuffer();
  });

  it("answers If-None-Match with 304 and a changed version with 200", async () => {
    const alice = await party();
    const doc = await upload(alice, text);
    const path = `/api/v1/documents/${doc.id}/download`;
    const same = await call(path, { headers: { ...alice.auth, "if-none-match": doc.etag } });
    expect([same.status, same.headers.get("etag")]).toEqual([304, doc.etag]);
    const weak = await call(path, { headers: { ...alice.auth, "if-none-match": `"x", W/${doc.etag}` } });
    expect(weak.status).toBe(304);
    const other = await call(path, { headers: { ...alice.auth, "if-none-match": '"other"' } });
    expect(other.status).toBe(200);
    await other.arrayBuffer();
  });

  it("makes versions under If-Match: 428 without, 412 stale, old versions stay readable", async () => {
    const alice = await party();
    const doc = await upload(alice, text);
    const put = (body: string, headers: Record<string, string>) =>
      call(`/api/v1/documents/${doc.id}/content`, {
        method: "PUT",
        headers: { ...alice.auth, "content-type": "text/plain", ...headers },
        body,
      });
    await expectProblem(await put("v2", {}), 428, "precondition_required");
    await expectProblem(await put("v2", { "if-match": '"stale.1"' }), 412, "precondition_failed");
    const v2 = await put("second version", { "if-match": doc.etag });
    expect(v2.status).toBe(200);
    const body = (await v2.json()) as { version: number; etag: string; size: number; sha256: string };
    expect(body).toMatchObject({ version: 2, size: 14, sha256: await sha256Hex(bytesOf("second version")) });
    expect(v2.headers.get("etag")).toBe(body.etag);
    await expectProblem(await put("v3", { "if-match": doc.etag }), 412, "precondition_failed");
    const versions = await call(`/api/v1/documents/${doc.id}/versions`, { headers: alice.auth });
    const list = (await versions.json()) as { versions: { version: number; size: number }[] };
    expect(list.versions.map((v) => [v.version, v.size])).toEqual([
      [2, 14],
      [1, 20],
    ]);
    const old = await call(`/api/v1/documents/${doc.id}/download?version=1`, { headers: alice.auth });
    expect([old.headers.get("etag"), await old.text()]).toEqual([doc.etag, "0123456789abcdefghij"]);
    const current = await call(`/api/v1/documents/${doc.id}/download`, { headers: alice.auth });
    expect(await current.text()).toBe("second version");
    await expectProblem(
      await call(`/api/v1/documents/${doc.id}/download?version=9`, { headers: alice.auth }),
      404,
      "version_not_found",
    );
    await expectProblem(
      await call(`/api/v1/documents/${doc.id}/download?version=../1`, { headers: alice.auth }),
      400,
      "invalid_version",
    );
    expect(await quotaRow(alice.owner)).toEqual({ bytes_used: 34, document_count: 1 });
  });

  it("lets exactly one of two racing writers with the same ETag win", async () => {
    const alice = await party();
    const doc = await upload(alice, text);
    const responses = await Promise.all(
      ["writer one", "writer two!"].map((body) =>
        call(`/api/v1/documents/${doc.id}/content`, {
          method: "PUT",
          headers: { ...alice.auth, "content-type": "text/plain", "if-match": doc.etag },
          body,
        }),
      ),
    );
    expect(responses.map((r) => r.status).sort()).toEqual([200, 412]);
    const winner = (await responses.find((r) => r.status === 200)?.json()) as { size: number };
    const usage = await quotaRow(alice.owner);
    expect(usage).toEqual({ bytes_used: 20 + winner.size, document_count: 1 });
    expect((await objectKeys(alice.owner)).length).toBe(2);
  });

  it("deletes every version from R2 and D1 and releases the quota", async () => {
    const alice = await party();
    const doc = await upload(alice, text);
    await call(`/api/v1/documents/${doc.id}/content`, {
      method: "PUT",
      headers: { ...alice.auth, "content-type": "text/plain", "if-match": doc.etag },
      body: "v2",
    });
    expect((await objectKeys(alice.owner)).length).toBe(2);
    const deleted = await call(`/api/v1/documents/${doc.id}`, { method: "DELETE", headers: alice.auth });
    expect(deleted.status).toBe(204);
    expect(await objectKeys(alice.owner)).toEqual([]);
    expect(await quotaRow(alice.owner)).toEqual({ bytes_used: 0, document_count: 0 });
    await expectProblem(
      await call(`/api/v1/documents/${doc.id}`, { headers: alice.auth }),
      404,
      "document_not_found",
    );
    const again = await call(`/api/v1/documents/${doc.id}`, { method: "DELETE", headers: alice.auth });
    await expectProblem(again, 404, "document_not_found");
    const leftovers = await env.DB.prepare(
      `SELECT (SELECT count(*) FROM document_versions WHERE document_id = ?1)
            + (SELECT count(*) FROM documents_fts WHERE document_id = ?1)
            + (SELECT count(*) FROM document_tags WHERE document_id = ?1) AS n`,
    )
      .bind(doc.id)
      .first<{ n: number }>();
    expect(leftovers?.n).toBe(0);
  });
});

describe("owner isolation", () => {
  it("answers another owner's id exactly like a missing one, on every route", async () => {
    const alice = await party();
    const mallory = await party();
    const doc = await upload(alice, bytesOf("private"));
    const json = { "content-type": "application/json" };
    const attempts: [string, RequestInit][] = [
      [`/api/v1/documents/${doc.id}`, {}],
      [`/api/v1/documents/${doc.id}/download`, {}],
      [`/api/v1/documents/${doc.id}/versions`, {}],
      [`/api/v1/documents/${doc.id}/access-log`, {}],
      [`/api/v1/documents/${doc.id}/permissions`, {}],
      [`/api/v1/documents/${doc.id}/relationships`, {}],
      [`/api/v1/documents/${doc.id}`, { method: "PATCH", headers: json, body: '{"name":"mine"}' }],
      [`/api/v1/documents/${doc.id}`, { method: "DELETE" }],
      [`/api/v1/documents/${doc.id}/presign`, { method: "POST", headers: json, body: '{"expiresIn":60}' }],
      [
        `/api/v1/documents/${doc.id}/permissions`,
        {
          method: "POST",
          headers: json,
          body: JSON.stringify({ grantee: mallory.owner, permission: "read" }),
        },
      ],
      [
        `/api/v1/documents/${doc.id}/content`,
        { method: "PUT", headers: { "if-match": doc.etag, "content-type": "text/plain" }, body: "overwrite" },
      ],
    ];
    for (const [path, init] of attempts) {
      const response = await call(path, {
        ...init,
        headers: { ...mallory.auth, ...(init.headers as Record<string, string>) },
      });
      await expectProblem(response, 404, "document_not_found");
    }
    const search = await call("/api/v1/documents?q=report", { headers: mallory.auth });
    expect(((await search.json()) as { documents: unknown[] }).documents).toEqual([]);
    const still = await call(`/api/v1/documents/${doc.id}/download`, { headers: alice.auth });
    expect(await still.text()).toBe("private");
  });
});

describe("quotas", () => {
  it("admits concurrent uploads exactly up to the byte limit and releases on delete", async () => {
    const alice = await party();
    await env.DB.prepare("INSERT INTO storage_quotas (owner, bytes_limit, updated_at) VALUES (?, ?, ?)")
      .bind(alice.owner, 10 * 1024, new Date().toISOString())
      .run();
    const file = randomBytes(2 * 1024);
    const inits = await Promise.all(
      Array.from({ length: 8 }, () => formRequest(alice, file, { mime: "application/octet-stream" })),
    );
    const responses = await Promise.all(inits.map((init) => call("/api/v1/documents/upload", init)));
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses).toEqual([201, 201, 201, 201, 201, 507, 507, 507]);
    const refused = responses.find((r) => r.status === 507);
    await expectProblem(refused as Response, 507, "quota_exceeded");
    expect(await quotaRow(alice.owner)).toEqual({ bytes_used: 10 * 1024, document_count: 5 });
    expect((await objectKeys(alice.owner)).length).toBe(5);
    const ids = await Promise.all(
      responses.filter((r) => r.status === 201).map(async (r) => ((await r.json()) as { id: string }).id),
    );
    await Promise.all(
      ids.map((id) => call(`/api/v1/documents/${id}`, { method: "DELETE", headers: alice.auth })),
    );
    expect(await quotaRow(alice.owner)).toEqual({ bytes_used: 0, document_count: 0 });
  });

  it("refuses past the count limit with 507 before storing", async () => {
    const alice = await party();
    await env.DB.prepare("INSERT INTO storage_quotas (owner, count_limit, updated_at) VALUES (?, 1, ?)")
      .bind(alice.owner, new Date().toISOString())
      .run();
    await upload(alice, bytesOf("one"));
    const second = await call("/api/v1/documents/upload", await formRequest(alice, bytesOf("two")));
    const problem = await expectProblem(second, 507, "quota_exceeded");
    expect((problem as unknown as { detail: string }).detail).toContain("count");
    expect((await objectKeys(alice.owner)).length).toBe(1);
  });

  it("reports stats per type with quota use", async () => {
    const alice = await party();
    await upload(alice, bytesOf("aaaa"), { type: "cases" });
    await upload(alice, bytesOf("bb"), { type: "evidence" });
    const stats = await call("/api/v1/documents/stats", { headers: alice.auth });
    expect(await stats.json()).toEqual({
      documents: 2,
      byType: { cases: { count: 1, bytes: 4 }, evidence: { count: 1, bytes: 2 } },
      totalBytes: 6,
      quota: { bytesUsed: 6, bytesLimit: 64 * 1024 * 1024, countUsed: 2, countLimit: 50 },
    });
  });
});
