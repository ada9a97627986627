import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { type ChittyClient, createClient } from "@chittyconnect/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningStack, startStack } from "../support/stack.ts";

const run = promisify(execFile);
const OWNER = "01-C-E2E-0002-D-2611-A-1";
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

let stack: RunningStack;
let token: string;
/** The typed client, as the document owner uses it. */
let edge: ChittyClient;
let scratch: string;

describe("end to end: documents through npm start's stack over HTTP", () => {
  beforeAll(async () => {
    stack = await startStack();
    scratch = mkdtempSync(join(tmpdir(), "chitty-docs-e2e-"));
    const minted = await createClient({ baseUrl: stack.edgeUrl, token: stack.adminToken }).raw.POST(
      "/api/v1/admin/tokens",
      { body: { owner: OWNER, scopes: ["documents:read", "documents:write"] } },
    );
    expect(minted.response.status).toBe(201);
    token = minted.data!.token;
    stack.track(token);
    edge = createClient({ baseUrl: stack.edgeUrl, token });
  }, 200_000);

  afterAll(async () => {
    await stack?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("uploads with curl, indexes through the local queue, searches, presigns and downloads", async () => {
    const file = join(scratch, "hearing-notes.md");
    const content = `# Hearing notes\n\nThe clerk mentioned the word axolotl exactly once.\n${"filler line\n".repeat(2000)}`;
    writeFileSync(file, content);
    // curl is what the README shows; it must work as pasted.
    const { stdout } = await run("curl", [
      "-sS",
      `${stack.edgeUrl}/api/v1/documents/upload`,
      "-H",
      `Authorization: Bearer ${token}`,
      "-F",
      "type=evidence",
      "-F",
      "tags=hearing,e2e",
      "-F",
      'metadata={"case":"2026-CV-0042"}',
      "-F",
      `file=@${file};type=text/markdown`,
    ]);
    const doc = JSON.parse(stdout) as { id: string; sha256: string; size: number; name: string };
    expect(doc).toMatchObject({ name: "hearing-notes.md", size: Buffer.byteLength(content) });

    // The wrangler-dev queue consumer indexes the content; a word only in it becomes findable.
    let hits: { id: string; snippet: string | null }[] = [];
    for (let attempt = 0; attempt < 60 && hits.length === 0; attempt++) {
      const search = await edge.raw.GET("/api/v1/documents", { params: { query: { q: "axolotl" } } });
      expect(search.response.status).toBe(200);
      hits = search.data!.documents;
      if (hits.length === 0) await new Promise((r) => setTimeout(r, 500));
    }
    expect(hits.map((h) => h.id)).toEqual([doc.id]);
    expect(hits[0]?.snippet).toContain("<mark>axolotl</mark>");

    const presign = await edge.raw.POST("/api/v1/documents/{id}/presign", {
      params: { path: { id: doc.id } },
      body: { expiresIn: 300 },
    });
    expect(presign.response.status).toBe(201);
    const { url } = presign.data!;
    expect(url.startsWith(stack.edgeUrl)).toBe(true);
    // A presigned URL is for whoever holds it: fetched bare, without the client's bearer token.
    const anonymous = await fetch(url);
    expect(anonymous.status).toBe(200);
    expect(anonymous.headers.get("content-disposition")).toContain("hearing-notes.md");
    expect(await anonymous.text()).toBe(content);

    const ranged = await edge.documents.download(doc.id, { range: "bytes=0-14" });
    expect([ranged.status, await ranged.text()]).toEqual([206, "# Hearing notes"]);
    const download = join(scratch, "download.md");
    await run("curl", [
      "-sS",
      "-o",
      download,
      "-H",
      `Authorization: Bearer ${token}`,
      `${stack.edgeUrl}/api/v1/documents/${doc.id}/download`,
    ]);
    expect(readFileSync(download, "utf8")).toBe(content);

    const status = await createClient({ baseUrl: stack.edgeUrl }).status();
    expect(status.checks.r2?.ok).toBe(true);
    expect(status.checks.queue?.ok).toBe(true);
  });

  it("uploads bytes with the client, and downloads them whole, by version and revalidated", async () => {
    // A PNG signature then every byte value: nothing may be re-encoded on the way in or out.
    const bytes = new Uint8Array([...PNG_SIGNATURE, ...Array.from({ length: 256 }, (_, i) => i)]);
    const doc = await edge.documents.upload({
      file: new File([bytes], "scan.png", { type: "image/png" }),
      type: "attachments",
      tags: ["scan"],
      metadata: { page: 1 },
    });
    expect(doc).toMatchObject({
      name: "scan.png",
      type: "attachments",
      mimeType: "image/png",
      size: bytes.byteLength,
      sha256: createHash("sha256").update(bytes).digest("hex"),
      version: 1,
    });

    const whole = await edge.documents.download(doc.id, { version: 1 });
    expect(whole.status).toBe(200);
    expect(whole.headers.get("content-type")).toBe("image/png");
    expect(new Uint8Array(await whole.arrayBuffer())).toEqual(bytes);
    const etag = whole.headers.get("etag");
    expect(etag).toBeTruthy();
    expect((await edge.documents.download(doc.id, { ifNoneMatch: etag! })).status).toBe(304);
  });
});
