import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningStack, startStack } from "../support/stack.ts";

const run = promisify(execFile);
const OWNER = "01-C-E2E-0002-D-2611-A-1";

let stack: RunningStack;
let token: string;
let scratch: string;

async function api(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${stack.edgeUrl}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) },
  });
}

describe("end to end: documents through npm start's stack over HTTP", () => {
  beforeAll(async () => {
    stack = await startStack();
    scratch = mkdtempSync(join(tmpdir(), "chitty-docs-e2e-"));
    const minted = await fetch(`${stack.edgeUrl}/api/v1/admin/tokens`, {
      method: "POST",
      headers: { authorization: `Bearer ${stack.adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({ owner: OWNER, scopes: ["documents:read", "documents:write"] }),
    });
    expect(minted.status).toBe(201);
    token = ((await minted.json()) as { token: string }).token;
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
      const search = await api("/api/v1/documents?q=axolotl");
      expect(search.status).toBe(200);
      hits = ((await search.json()) as { documents: typeof hits }).documents;
      if (hits.length === 0) await new Promise((r) => setTimeout(r, 500));
    }
    expect(hits.map((h) => h.id)).toEqual([doc.id]);
    expect(hits[0]?.snippet).toContain("<mark>axolotl</mark>");

    const presign = await api(`/api/v1/documents/${doc.id}/presign`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ expiresIn: 300 }),
    });
    expect(presign.status).toBe(201);
    const { url } = (await presign.json()) as { url: string };
    expect(url.startsWith(stack.edgeUrl)).toBe(true);
    const anonymous = await fetch(url);
    expect(anonymous.status).toBe(200);
    expect(anonymous.headers.get("content-disposition")).toContain("hearing-notes.md");
    expect(await anonymous.text()).toBe(content);

    const ranged = await api(`/api/v1/documents/${doc.id}/download`, { headers: { range: "bytes=0-14" } });
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

    const status = (await (await fetch(`${stack.edgeUrl}/api/v1/status`)).json()) as {
      checks: { r2: { ok: boolean }; queue: { ok: boolean } };
    };
    expect(status.checks.r2.ok).toBe(true);
    expect(status.checks.queue.ok).toBe(true);
  });
});
