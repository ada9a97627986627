import { env } from "cloudflare:test";
import { expect } from "vitest";
import { bearer, call, jsonInit, mintToken, uniqueOwner } from "./helpers.ts";

export { bearer, call, env, jsonInit };

export interface Party {
  owner: string;
  token: string;
  auth: Record<string, string>;
}

export async function party(scopes = ["documents:read", "documents:write"]): Promise<Party> {
  const owner = uniqueOwner("doc");
  const token = (await mintToken(owner, scopes)).token;
  return { owner, token, auth: bearer(token) };
}

export function bytesOf(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  return out;
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export interface UploadOptions {
  type?: string;
  name?: string;
  mime?: string;
  tags?: string;
  metadata?: string;
  /** Fields after the file (which the API refuses). */
  trailingField?: boolean;
}

export interface FormPart {
  name: string;
  value: string | Uint8Array;
  filename?: string;
  contentType?: string;
}

/** multipart/form-data bytes exactly as browsers, curl and Node's fetch send them (closing CRLF). */
export function encodeForm(
  parts: FormPart[],
  boundary = `----chitty${crypto.randomUUID()}`,
): {
  body: Uint8Array;
  contentType: string;
} {
  const encoder = new TextEncoder();
  const chunks: Uint8Array[] = [];
  for (const part of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"`;
    if (part.filename !== undefined) head += `; filename="${part.filename}"`;
    head += "\r\n";
    if (part.contentType !== undefined) head += `Content-Type: ${part.contentType}\r\n`;
    chunks.push(encoder.encode(`${head}\r\n`));
    chunks.push(typeof part.value === "string" ? encoder.encode(part.value) : part.value);
    chunks.push(encoder.encode("\r\n"));
  }
  chunks.push(encoder.encode(`--${boundary}--\r\n`));
  const body = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return { body, contentType: `multipart/form-data; boundary=${boundary}` };
}

/** An upload request as a browser or curl sends it, with its Content-Length. */
export async function formRequest(
  party: Pick<Party, "auth">,
  file: Uint8Array,
  options: UploadOptions = {},
): Promise<RequestInit> {
  const parts: FormPart[] = [];
  if (options.type !== "") parts.push({ name: "type", value: options.type ?? "evidence" });
  if (options.tags !== undefined) parts.push({ name: "tags", value: options.tags });
  if (options.metadata !== undefined) parts.push({ name: "metadata", value: options.metadata });
  parts.push({
    name: "file",
    value: file,
    filename: options.name ?? "report.txt",
    contentType: options.mime ?? "text/plain",
  });
  if (options.trailingField) parts.push({ name: "note", value: "late" });
  const { body, contentType } = encodeForm(parts);
  return {
    method: "POST",
    headers: { ...party.auth, "content-type": contentType, "content-length": String(body.byteLength) },
    body,
  };
}

export interface DocumentBody {
  id: string;
  owner: string;
  type: string;
  name: string;
  mimeType: string;
  size: number;
  sha256: string | null;
  version: number;
  etag: string;
  metadata: Record<string, unknown>;
  tags: string[];
  indexStatus: string;
  access: string;
}

export async function upload(
  party: Party,
  file: Uint8Array,
  options: UploadOptions = {},
): Promise<DocumentBody> {
  const response = await call("/api/v1/documents/upload", await formRequest(party, file, options));
  if (response.status !== 201) throw new Error(`upload failed: ${response.status} ${await response.text()}`);
  return (await response.json()) as DocumentBody;
}

export async function expectProblem(response: Response, status: number, code: string) {
  const body = (await response.json()) as { code: string; requestId?: string; status: number };
  expect({ status: response.status, code: body.code }).toEqual({ status, code });
  expect(response.headers.get("content-type")).toContain("application/problem+json");
  expect(body.requestId).toBeTruthy();
  return body;
}

export async function quotaRow(owner: string) {
  return env.DB.prepare("SELECT bytes_used, document_count FROM storage_quotas WHERE owner = ?")
    .bind(owner)
    .first<{ bytes_used: number; document_count: number }>();
}

export async function objectKeys(owner: string): Promise<string[]> {
  const listed = await env.DOCUMENTS.list({ prefix: `chittyid/${owner}/` });
  return listed.objects.map((o) => o.key);
}
