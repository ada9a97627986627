import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { wranglerBin, wranglerDevArgs, wranglerEnv } from "../dev/src/stack/wrangler.ts";
import { freePort } from "../test/support/ports.ts";
import { formatTable, measure } from "./harness.ts";

/**
 * Documents through `wrangler dev` (workerd with local R2/D1/Queues), against a bare Worker in a
 * second `wrangler dev` that only streams the same bytes to R2, in the same run: the ratio is the
 * figure. Also the edge's workerd memory per file size and search p50 over BENCH_DOCS documents.
 * BENCH_MEDIUM_MB (32), BENCH_LARGE_MB (256), BENCH_DOCS (10000) and BENCH_SECONDS (5) scale it.
 */
const repoRoot = resolve(import.meta.dirname, "..");
const MiB = 1024 * 1024;
const mediumMb = Number(process.env.BENCH_MEDIUM_MB ?? 32);
const largeMb = Number(process.env.BENCH_LARGE_MB ?? 256);
const docCount = Number(process.env.BENCH_DOCS ?? 10_000);
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const PART = 8 * MiB;
const wrangler = wranglerBin(repoRoot);
const work = mkdtempSync(join(tmpdir(), "chitty-docbench-"));
const children: ChildProcess[] = [];
let stopping = false;
const ADMIN = `adm_bench_${randomBytes(16).toString("hex")}`;
const OWNER = "01-C-BENCH-0002-D-2611-A-1";

const BARE_WORKER = `
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const key = url.searchParams.get("key");
    if (request.method === "PUT" && url.pathname === "/put") {
      await env.BUCKET.put(key, request.body);
      return new Response("ok");
    }
    if (request.method === "GET" && url.pathname === "/get") {
      const object = await env.BUCKET.get(key);
      return new Response(object.body, { headers: { "content-length": String(object.size) } });
    }
    if (request.method === "POST" && url.pathname === "/mpu") {
      const upload = await env.BUCKET.createMultipartUpload(key);
      return new Response(upload.uploadId);
    }
    if (request.method === "PUT" && url.pathname === "/mpu") {
      const upload = env.BUCKET.resumeMultipartUpload(key, url.searchParams.get("id"));
      const part = await upload.uploadPart(Number(url.searchParams.get("n")), request.body);
      return Response.json(part);
    }
    if (request.method === "POST" && url.pathname === "/mpu/complete") {
      const upload = env.BUCKET.resumeMultipartUpload(key, url.searchParams.get("id"));
      await upload.complete(await request.json());
      return new Response("ok");
    }
    return new Response("no", { status: 404 });
  },
};
`;

function wranglerDev(name: string, args: string[], port: number): ChildProcess {
  const child = spawn(wrangler, wranglerDevArgs(port, args), {
    cwd: repoRoot,
    env: wranglerEnv({ PATH: process.env.PATH, HOME: process.env.HOME }),
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let log = "";
  child.stdout?.on("data", (d: Buffer) => (log += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (log += d.toString()));
  child.on("exit", (code) => {
    if (!stopping && code !== 0) console.error(`${name} exited ${code}:\n${log.slice(-2000)}`);
  });
  children.push(child);
  return child;
}

async function waitFor(url: string): Promise<void> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`${url} did not come up`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}

/** Resident memory of every workerd process descended from `root` (wrangler dev's own tree). */
function workerdRssBytes(root: number): number {
  const parents = new Map<number, number>();
  const names = new Map<number, string>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      names.set(Number(entry), stat.slice(stat.indexOf("(") + 1, close));
      parents.set(Number(entry), Number(stat.slice(close + 2).split(" ")[1]));
    } catch {
      // The process ended while we looked.
    }
  }
  let total = 0;
  for (const [pid, name] of names) {
    if (!name.startsWith("workerd")) continue;
    let p: number | undefined = pid;
    while (p !== undefined && p > 1 && p !== root) p = parents.get(p);
    if (p !== root) continue;
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    total += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
  }
  return total;
}

/** Peak workerd RSS while `work` runs, sampled every 20 ms. */
async function peakRss<T>(root: number, work: () => Promise<T>): Promise<{ value: T; peak: number }> {
  let peak = workerdRssBytes(root);
  const timer = setInterval(() => {
    peak = Math.max(peak, workerdRssBytes(root));
  }, 20);
  try {
    const value = await work();
    return { value, peak: Math.max(peak, workerdRssBytes(root)) };
  } finally {
    clearInterval(timer);
  }
}

function form(file: Uint8Array, name: string): { body: Buffer; contentType: string } {
  const boundary = `----bench${randomBytes(8).toString("hex")}`;
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="type"\r\n\r\nattachments\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\n` +
      "Content-Type: application/octet-stream\r\n\r\n",
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return {
    body: Buffer.concat([head, file, tail]),
    contentType: `multipart/form-data; boundary=${boundary}`,
  };
}

function seedSql(count: number): string {
  const words = [
    "affidavit",
    "deposition",
    "exhibit",
    "subpoena",
    "hearing",
    "motion",
    "verdict",
    "witness",
    "ledger",
    "invoice",
    "contract",
    "appeal",
    "docket",
    "brief",
    "ruling",
    "memo",
  ];
  const now = new Date().toISOString();
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = crypto.randomUUID();
    const pick = (n: number) => words[(i * 7 + n * 13) % words.length];
    const name = `${pick(1)}-${i}.txt`;
    const text = Array.from({ length: 60 }, (_, n) => `${pick(n)} ${i % 97}`).join(" ");
    lines.push(
      `INSERT INTO documents (id, owner, type, name, mime_type, size, current_version, last_version, status, index_status, created_at, updated_at) VALUES ('${id}', '${OWNER}', 'evidence', '${name}', 'text/plain', 100, 1, 1, 'active', 'indexed', '${now}', '${now}');`,
      `INSERT INTO documents_fts (document_id, name, tags, metadata, content) VALUES ('${id}', '${name}', '${pick(2)}', '', '${text}');`,
    );
  }
  return lines.join("\n");
}

async function timedMbps(bytes: number, work: () => Promise<void>, repeat: number): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < repeat; i++) await work();
  return (bytes * repeat) / MiB / ((performance.now() - started) / 1000);
}

try {
  const [edgePort, barePort] = await Promise.all([freePort(), freePort()]);
  const state = join(work, "state");
  writeFileSync(
    join(work, "edge.env"),
    `ADMIN_TOKEN=${ADMIN}\nEDGE_SIGNING_KEY=${randomBytes(32).toString("hex")}\nDOCUMENT_URL_SIGNING_KEY=${randomBytes(32).toString("hex")}\n`,
  );
  const common = ["--local", "--persist-to", state, "--config", "edge/wrangler.jsonc"];
  for (const args of [["d1", "migrations", "apply", "DB", ...common]]) {
    const result = spawnSync(wrangler, args, {
      cwd: repoRoot,
      env: wranglerEnv(process.env),
      encoding: "utf8",
    });
    if (result.status !== 0) throw new Error(`wrangler ${args.join(" ")} failed: ${result.stderr}`);
  }
  const sqlFile = join(work, "seed.sql");
  writeFileSync(sqlFile, seedSql(docCount));
  const seeded = spawnSync(wrangler, ["d1", "execute", "DB", ...common, "--file", sqlFile], {
    cwd: repoRoot,
    env: wranglerEnv(process.env),
    encoding: "utf8",
  });
  if (seeded.status !== 0) throw new Error(`seeding failed: ${seeded.stderr.slice(-1000)}`);

  writeFileSync(join(work, "bare.js"), BARE_WORKER);
  writeFileSync(
    join(work, "bare.jsonc"),
    JSON.stringify({
      name: "bare-r2",
      main: "bare.js",
      compatibility_date: "2026-11-01",
      r2_buckets: [{ binding: "BUCKET", bucket_name: "bare" }],
    }),
  );
  const edge = wranglerDev(
    "edge",
    [
      "--config",
      "edge/wrangler.jsonc",
      "--persist-to",
      state,
      "--env-file",
      join(work, "edge.env"),
      "--var",
      `DOCUMENT_MAX_UPLOAD_BYTES:${Math.max(64, mediumMb * 2) * MiB}`,
      // Limits far above what the run sends: this measures documents, not the limiter refusing them.
      "--var",
      "RATE_LIMIT_DOCUMENTS_PER_MINUTE:100000",
      "--var",
      "RATE_LIMIT_OTHER_PER_MINUTE:100000",
      "--var",
      "RATE_LIMIT_ADMIN_PER_MINUTE:100000",
    ],
    edgePort,
  );
  wranglerDev(
    "bare",
    ["--config", join(work, "bare.jsonc"), "--persist-to", join(work, "bare-state")],
    barePort,
  );
  const edgeUrl = `http://127.0.0.1:${edgePort}`;
  const bareUrl = `http://127.0.0.1:${barePort}`;
  await Promise.all([waitFor(`${edgeUrl}/health`), waitFor(`${bareUrl}/`)]);

  const minted = await fetch(`${edgeUrl}/api/v1/admin/tokens`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
    body: JSON.stringify({ owner: OWNER, scopes: ["documents:read", "documents:write"] }),
  });
  const { token } = (await minted.json()) as { token: string };
  const auth = { authorization: `Bearer ${token}` };

  const uploadEdge = async (file: Uint8Array): Promise<string> => {
    const { body, contentType } = form(file, "bench.bin");
    const response = await fetch(`${edgeUrl}/api/v1/documents/upload`, {
      method: "POST",
      headers: { ...auth, "content-type": contentType },
      body,
    });
    if (response.status !== 201) throw new Error(`upload ${response.status} ${await response.text()}`);
    return ((await response.json()) as { id: string }).id;
  };
  const downloadEdge = async (id: string, size: number) => {
    const response = await fetch(`${edgeUrl}/api/v1/documents/${id}/download`, { headers: auth });
    const got = (await response.arrayBuffer()).byteLength;
    if (got !== size) throw new Error(`download got ${got}`);
  };
  const multipartEdge = async (file: Uint8Array): Promise<string> => {
    const created = await fetch(`${edgeUrl}/api/v1/documents/multipart`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({
        name: "large.bin",
        type: "attachments",
        mimeType: "application/octet-stream",
        size: file.byteLength,
      }),
    });
    const { uploadId, documentId, partSize, partCount } = (await created.json()) as {
      uploadId: string;
      documentId: string;
      partSize: number;
      partCount: number;
    };
    for (let n = 1; n <= partCount; n++) {
      const response = await fetch(`${edgeUrl}/api/v1/documents/multipart/${uploadId}/parts/${n}`, {
        method: "PUT",
        headers: auth,
        body: file.subarray((n - 1) * partSize, n * partSize),
      });
      if (response.status !== 200) throw new Error(`part ${n}: ${response.status}`);
      await response.arrayBuffer();
    }
    const done = await fetch(`${edgeUrl}/api/v1/documents/multipart/${uploadId}/complete`, {
      method: "POST",
      headers: auth,
    });
    if (done.status !== 201) throw new Error(`complete ${done.status}`);
    await done.arrayBuffer();
    return documentId;
  };
  const uploadBare = async (file: Uint8Array, key: string) => {
    const response = await fetch(`${bareUrl}/put?key=${key}`, { method: "PUT", body: file });
    await response.arrayBuffer();
  };
  const downloadBare = async (key: string, size: number) => {
    const got = (await (await fetch(`${bareUrl}/get?key=${key}`)).arrayBuffer()).byteLength;
    if (got !== size) throw new Error(`bare download got ${got}`);
  };
  const multipartBare = async (file: Uint8Array, key: string) => {
    const id = await (await fetch(`${bareUrl}/mpu?key=${key}`, { method: "POST" })).text();
    const parts = [];
    for (let n = 1; (n - 1) * PART < file.byteLength; n++) {
      const response = await fetch(`${bareUrl}/mpu?key=${key}&id=${encodeURIComponent(id)}&n=${n}`, {
        method: "PUT",
        body: file.subarray((n - 1) * PART, n * PART),
      });
      parts.push(await response.json());
    }
    await (
      await fetch(`${bareUrl}/mpu/complete?key=${key}&id=${encodeURIComponent(id)}`, {
        method: "POST",
        body: JSON.stringify(parts),
      })
    ).arrayBuffer();
  };

  const edgePid = edge.pid as number;
  const idle = workerdRssBytes(edgePid);
  const rows: string[][] = [];
  const memory: string[][] = [];
  for (const [label, mb, repeat, multipart] of [
    ["1 MB", 1, 20, false],
    [`${mediumMb} MB`, mediumMb, 3, false],
    [`${largeMb} MB multipart`, largeMb, 1, true],
  ] as const) {
    const file = new Uint8Array(randomBytes(mb * MiB));
    const bareKey = `bench-${mb}`;
    const bareUp = await timedMbps(
      file.byteLength,
      () => (multipart ? multipartBare(file, bareKey) : uploadBare(file, bareKey)),
      repeat,
    );
    let id = "";
    const { value: edgeUp, peak } = await peakRss(edgePid, () =>
      timedMbps(
        file.byteLength,
        async () => {
          id = await (multipart ? multipartEdge(file) : uploadEdge(file));
        },
        repeat,
      ),
    );
    const bareDown = await timedMbps(file.byteLength, () => downloadBare(bareKey, file.byteLength), repeat);
    const { value: edgeDown, peak: downPeak } = await peakRss(edgePid, () =>
      timedMbps(file.byteLength, () => downloadEdge(id, file.byteLength), repeat),
    );
    rows.push([
      label,
      bareUp.toFixed(1),
      edgeUp.toFixed(1),
      `${((edgeUp / bareUp) * 100).toFixed(0)} %`,
      bareDown.toFixed(1),
      edgeDown.toFixed(1),
      `${((edgeDown / bareDown) * 100).toFixed(0)} %`,
    ]);
    memory.push([label, (idle / MiB).toFixed(0), (peak / MiB).toFixed(0), (downPeak / MiB).toFixed(0)]);
  }

  const table = (header: string[], body: string[][]) => {
    const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]?.length ?? 0)));
    return [header, ...body]
      .map((r) =>
        r
          .map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number)))
          .join("  "),
      )
      .join("\n");
  };
  console.log(
    `ChittyConnect documents benchmark (wrangler dev, local R2/D1): MB/s, edge vs a bare R2-streaming Worker`,
  );
  console.log(table(["file", "bare up", "edge up", "ratio", "bare down", "edge down", "ratio"], rows));
  console.log("\nedge workerd resident memory (MiB): idle, peak during uploads, peak during downloads");
  console.log(table(["file", "idle", "upload peak", "download peak"], memory));

  const words = ["affidavit", "deposition", "exhibit", "subpoena", "hearing", "motion", "verdict", "witness"];
  let i = 0;
  const search = await measure(
    `search p50 over ${docCount} docs`,
    async () => {
      const q = words[i++ % words.length];
      const response = await fetch(`${edgeUrl}/api/v1/documents?q=${q}&limit=20`, { headers: auth });
      if (response.status !== 200) throw new Error(`search ${response.status}`);
      await response.arrayBuffer();
    },
    { concurrency: 4, durationMs: seconds * 1000, warmupMs: 1000 },
  );
  const stats = await measure(
    "baseline: GET /api/v1/documents/stats",
    async () => {
      const response = await fetch(`${edgeUrl}/api/v1/documents/stats`, { headers: auth });
      await response.arrayBuffer();
    },
    { concurrency: 4, durationMs: seconds * 1000, warmupMs: 1000 },
  );
  console.log(`\n${formatTable([stats, search])}`);
  console.log(`search p50 ×${(search.p50 / stats.p50).toFixed(2)} of an authenticated D1 round trip (stats)`);
} finally {
  stopping = true;
  for (const child of children) {
    try {
      process.kill(-(child.pid as number), "SIGTERM");
    } catch {
      // Already gone.
    }
  }
  await new Promise((r) => setTimeout(r, 1500));
  rmSync(work, { recursive: true, force: true });
}
