import { execFile } from "node:child_process";
import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { AuditEntrySchema } from "@chittyconnect/contract";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { verifyLog } from "../../src/audit/chain.ts";
import { AuditDiskFullError } from "../../src/audit/disk.ts";
import { type AuditRecord, chainMac, genesisHash, sealEntry, valueHmac } from "../../src/audit/entry.ts";
import {
  AuditChainBrokenError,
  AuditLog,
  type AuditLogOptions,
  AuditRefusedError,
} from "../../src/audit/log.ts";
import { listSegments, segmentPath } from "../../src/audit/segments.ts";
import { type AuditSink, SegmentedFileSink } from "../../src/audit/sink.ts";

const run = promisify(execFile);
const VERIFY_CLI = new URL("../../src/audit/verify-cli.ts", import.meta.url).pathname;
const KEY = "audit-chain-key-for-tests-0123456789abcdef";
const OTHER_KEY = "another-chain-key-for-tests-0123456789abc";

const tempBase = () => join(mkdtempSync(join(tmpdir(), "audit-")), "nested", "audit.log");

const record = (overrides: Partial<AuditRecord> = {}): AuditRecord => ({
  requestId: "req-1",
  owner: "01-C-PROD-0001-P-2501-A-X",
  service: "chittyrouter",
  action: "provision",
  credentialPath: "services/chittyid/service_token",
  purpose: "boot",
  outcome: "allowed",
  sealed: false,
  leaseId: "lease-1",
  valueHmac: valueHmac("k".repeat(32), "secret"),
  ...overrides,
});

const open = (base: string, options: Partial<AuditLogOptions> = {}) =>
  AuditLog.open({ base, key: KEY, segmentBytes: 1 << 20, diskReserveBytes: 0, ...options });

async function writeLog(count: number, options: Partial<AuditLogOptions> = {}) {
  const base = tempBase();
  const log = await open(base, options);
  for (let i = 0; i < count; i++) await log.append(record({ requestId: `req-${i + 1}` }));
  const head = log.head();
  await log.close();
  return { base, head, lines: readFileSync(segmentPath(base, 1), "utf8").trimEnd().split("\n") };
}

const joinLines = (lines: string[]) => `${lines.join("\n")}\n`;
const rewrite = (base: string, lines: string[]) => writeFileSync(segmentPath(base, 1), joinLines(lines));

describe("keyed audit chain", () => {
  it("writes contract-shaped lines keyed to the instance's genesis, never the value", async () => {
    const { base, lines, head } = await writeLog(3);
    const entries = lines.map((line) => JSON.parse(line));
    for (const entry of entries) AuditEntrySchema.parse(entry);
    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(entries[0].instance).toMatch(/^origin-[0-9a-f]{16}$/);
    expect(entries[0].prevHash).toBe(genesisHash(KEY, entries[0].instance));
    expect(entries[1].prevHash).toBe(entries[0].hash);
    expect(head).toEqual({ instance: entries[0].instance, seq: 3, hash: entries[2].hash });
    expect(lines.join("\n")).not.toContain("secret");
    expect(statSync(segmentPath(base, 1)).mode & 0o777).toBe(0o600);
    expect(await verifyLog(base, KEY)).toMatchObject({ ok: true, count: 3, head });
  });

  it("resumes seq and prevHash after a restart, and keeps an extra member under the MAC", async () => {
    const { base } = await writeLog(2);
    const log = await open(base);
    const entry = await log.append(record({ idempotencyKey: "idem-1" }));
    await log.close();
    expect(entry).toMatchObject({ seq: 3, idempotencyKey: "idem-1" });
    expect(await verifyLog(base, KEY)).toMatchObject({ ok: true, count: 3 });
  });

  it("detects a changed line, a deleted line, reordered lines and an added member", async () => {
    const { base, lines } = await writeLog(5);
    const check = async (edited: string[]) => {
      rewrite(base, edited);
      return verifyLog(base, KEY);
    };
    const changed = [...lines];
    changed[2] = changed[2]!.replace('"outcome":"allowed"', '"outcome":"denied"');
    expect(await check(changed)).toMatchObject({ ok: false, line: 3, reason: expect.stringMatching(/MAC/) });
    expect(await check(lines.filter((_, i) => i !== 1))).toMatchObject({
      ok: false,
      line: 2,
      reason: expect.stringMatching(/seq is 3, expected 2/),
    });
    expect(await check([lines[0]!, lines[2]!, lines[1]!, lines[3]!, lines[4]!])).toMatchObject({
      ok: false,
      line: 2,
    });
    const injected = lines[1]!.replace(/^\{/, '{"injected":"x",');
    expect(await check([lines[0]!, injected])).toMatchObject({ ok: false, line: 2 });
  });

  it("detects a chain rewritten consistently by someone without the key", async () => {
    const { base, lines } = await writeLog(4);
    // Everything an attacker can do without AUDIT_CHAIN_KEY: rebuild every line and link with another key.
    let prevHash = genesisHash(OTHER_KEY, JSON.parse(lines[0]!).instance);
    const forged = lines.map((line) => {
      const { hash: _old, ...entry } = JSON.parse(line);
      const sealed = sealEntry(OTHER_KEY, { ...entry, purpose: "forged", prevHash });
      prevHash = sealed.hash;
      return sealed.line;
    });
    rewrite(base, forged);
    expect(await verifyLog(base, OTHER_KEY)).toMatchObject({ ok: true, count: 4 });
    expect(await verifyLog(base, KEY)).toMatchObject({
      ok: false,
      line: 1,
      reason: expect.stringMatching(/another key/),
    });
    await expect(open(base)).rejects.toThrow(AuditChainBrokenError);
  });

  it("detects lines of another instance's chain spliced in", async () => {
    const first = await writeLog(2);
    const second = await writeLog(3);
    rewrite(first.base, [...first.lines, second.lines[2]!]);
    expect(await verifyLog(first.base, KEY)).toMatchObject({ ok: false, line: 3 });
  });

  it("any edit of a line's purpose breaks verification at that line", async () => {
    const { base, lines } = await writeLog(3);
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1, maxLength: 20 }), async (purpose) => {
        fc.pre(purpose !== "boot");
        const entry = JSON.parse(lines[1]!);
        const { hash, ...rest } = entry;
        // Written the way the log writes, keeping the old hash: only the key could make it match.
        const edited = `${JSON.stringify({ ...rest, purpose }).slice(0, -1)},"hash":"${hash}"}`;
        rewrite(base, [lines[0]!, edited, lines[2]!]);
        expect(await verifyLog(base, KEY)).toMatchObject({ ok: false, line: 2 });
      }),
      { numRuns: 50 },
    );
  });

  it("refuses to open a broken log, naming the segment and line", async () => {
    const { base, lines } = await writeLog(3);
    rewrite(base, [lines[0]!, lines[2]!]);
    await expect(open(base)).rejects.toThrow(/audit\.log\.000001 at line 2/);
    await expect(open(base, { verifyInWorkerBytes: 0 })).rejects.toThrow(/audit\.log\.000001 at line 2/);
  });

  it("refuses a log of another instance than AUDIT_INSTANCE_ID, and a pre-segment log file", async () => {
    const { base } = await writeLog(1, { instance: "origin-a" });
    await expect(open(base, { instance: "origin-b" })).rejects.toThrow(/belongs to instance origin-a/);
    writeFileSync(base, "{}\n");
    await expect(open(base, { instance: "origin-a" })).rejects.toThrow(/before segments and keyed chains/);
  });
});

describe("anchor check", () => {
  it("a cut tail verifies on its own but not against the anchor", async () => {
    const { base, lines, head } = await writeLog(5, { instance: "origin-a" });
    rewrite(base, lines.slice(0, 3));
    expect(await verifyLog(base, KEY)).toMatchObject({ ok: true, count: 3 });
    expect(await verifyLog(base, KEY, { anchor: head })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/ends at seq 3 but the edge anchored seq 5 \(tail cut\)/),
    });
    await expect(open(base, { anchor: head })).rejects.toThrow(/tail cut/);
  });

  it("a log cut and written on past the anchor differs at the anchored seq", async () => {
    const { base, lines, head } = await writeLog(4, { instance: "origin-a" });
    rewrite(base, lines.slice(0, 2));
    const log = await open(base);
    for (let i = 0; i < 3; i++) await log.append(record({ purpose: "after the cut" }));
    await log.close();
    expect(await verifyLog(base, KEY, { anchor: head })).toMatchObject({
      ok: false,
      line: 4,
      reason: expect.stringMatching(/differs from the head the edge anchored/),
    });
  });

  it("a deleted log shows when the instance is pinned", async () => {
    const { base, head } = await writeLog(2, { instance: "origin-a" });
    rmSync(segmentPath(base, 1));
    await expect(open(base, { instance: "origin-a", anchor: head })).rejects.toThrow(/ends at seq 0/);
  });

  it("a log that holds the anchor passes and says so", async () => {
    const { base, head } = await writeLog(3, { instance: "origin-a" });
    const log = await open(base, { anchor: { ...head, seq: 2, hash: (await entryAt(base, 2)).hash } });
    await log.append(record());
    expect(await log.contains(head)).toBe(true);
    expect(await log.contains({ ...head, hash: "0".repeat(64) })).toBe(false);
    expect(await log.contains({ ...head, seq: 99 })).toBe(false);
    await log.close();
    expect(await verifyLog(base, KEY, { anchor: head })).toMatchObject({ ok: true, anchored: true });
  });
});

async function entryAt(base: string, seq: number): Promise<{ hash: string }> {
  const lines = readFileSync(segmentPath(base, 1), "utf8").trimEnd().split("\n");
  return JSON.parse(lines[seq - 1]!);
}

describe("segments", () => {
  it("rolls over at the size limit without splitting a batch, and verifies across segments", async () => {
    const base = tempBase();
    const log = await open(base, { segmentBytes: 4096 });
    for (let i = 0; i < 30; i++) await log.append(record({ requestId: `r${i}` }));
    await Promise.all(Array.from({ length: 20 }, (_, i) => log.append(record({ requestId: `c${i}` }))));
    await log.close();
    const segments = await listSegments(base);
    expect(segments.length).toBeGreaterThan(3);
    for (const segment of segments.slice(0, -1)) {
      const text = readFileSync(segmentPath(base, segment), "utf8");
      expect(text.endsWith("\n")).toBe(true);
      expect(statSync(segmentPath(base, segment)).size).toBeLessThanOrEqual(4096 + 2048);
    }
    expect(await verifyLog(base, KEY)).toMatchObject({ ok: true, count: 50 });
    const reopened = await open(base, { segmentBytes: 4096 });
    expect((await reopened.append(record())).seq).toBe(51);
    await reopened.close();
    expect(await verifyLog(base, KEY)).toMatchObject({ ok: true, count: 51 });
  });

  it("detects a missing segment and a removed first segment", async () => {
    const base = tempBase();
    const log = await open(base, { segmentBytes: 4096 });
    for (let i = 0; i < 40; i++) await log.append(record());
    await log.close();
    rmSync(segmentPath(base, 2));
    expect(await verifyLog(base, KEY)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/segment 2 is missing/),
    });
    rmSync(segmentPath(base, 1));
    expect(await verifyLog(base, KEY)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/segment 1 is missing/),
    });
  });
});

describe("owner index", () => {
  it("pages one owner's entries newest first and never another owner's", async () => {
    const owners = ["alice-01", "bob-0001", "carol-01"];
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom(...owners), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 7 }),
        async (writers, limit) => {
          const base = tempBase();
          const log = await open(base, { segmentBytes: 4096 });
          await Promise.all(writers.map((owner, i) => log.append(record({ owner, requestId: `r${i}` }))));
          for (const owner of owners) {
            const expected = writers
              .map((w, i) => ({ w, seq: i + 1 }))
              .filter(({ w }) => w === owner)
              .map(({ seq }) => seq)
              .reverse();
            const seen: number[] = [];
            let before: number | undefined;
            for (;;) {
              const page = await log.list(owner, { limit, ...(before ? { before } : {}) });
              expect(page.entries.length).toBeLessThanOrEqual(limit);
              for (const entry of page.entries) expect(entry.owner).toBe(owner);
              seen.push(...page.entries.map((e) => e.seq));
              if (page.nextBefore === undefined) break;
              before = page.nextBefore;
            }
            expect(seen).toEqual(expected);
          }
          await log.close();
        },
      ),
      { numRuns: 15 },
    );
  });

  it("is rebuilt from the segments when deleted, and trimmed when the log's tail was cut", async () => {
    const { base, lines } = await writeLog(6);
    rmSync(`${base}.index.sqlite`);
    // The child process large logs are verified in: the same pass, the same index.
    let log = await open(base, { verifyInWorkerBytes: 0 });
    expect((await log.list(record().owner, { limit: 50 })).entries.map((e) => e.seq)).toEqual([
      6, 5, 4, 3, 2, 1,
    ]);
    await log.close();
    rewrite(base, lines.slice(0, 4));
    log = await open(base, { verifyInWorkerBytes: 0 });
    expect((await log.list(record().owner, { limit: 2 })).entries.map((e) => e.seq)).toEqual([4, 3]);
    await log.close();
  });

  it("refuses to serve a line the index points at that does not verify", async () => {
    const { base, lines } = await writeLog(2);
    const log = await open(base);
    // Same length, other content: what a stale or tampered index would hand out.
    rewrite(base, [lines[0]!, lines[1]!.replace('"purpose":"boot"', '"purpose":"bott"')]);
    await expect(log.list(record().owner, { limit: 5 })).rejects.toThrow(/does not verify/);
    await log.close();
  });
});

describe("crash and fault recovery", () => {
  it("cuts off a partial last line left by a crash mid-write and continues the chain", async () => {
    const { base, lines } = await writeLog(3);
    appendFileSync(segmentPath(base, 1), lines[2]!.slice(0, 40));
    expect(await verifyLog(base, KEY)).toMatchObject({ ok: true, count: 3, torn: { segment: 1, bytes: 40 } });
    const torn: unknown[] = [];
    const log = await open(base, { onTornTail: (tail) => torn.push(tail) });
    expect(torn).toEqual([{ segment: 1, offset: expect.any(Number), bytes: 40 }]);
    expect((await log.append(record())).seq).toBe(4);
    await log.close();
    expect(await verifyLog(base, KEY)).toMatchObject({ ok: true, count: 4, torn: undefined });
  });

  it("a partial line in the middle of the log is tampering, not a crash", async () => {
    const { base, lines } = await writeLog(3);
    rewrite(base, [lines[0]!, lines[1]!.slice(0, 30), lines[2]!]);
    expect(await verifyLog(base, KEY)).toMatchObject({ ok: false, line: 2 });
  });

  it("keeps a valid chain under concurrent appends, written together (group commit)", async () => {
    const base = tempBase();
    const real = new SegmentedFileSink(base, { segment: 1, segmentBytes: 1 << 20 });
    let writes = 0;
    const counting: AuditSink = {
      append: (lines) => {
        writes++;
        return real.append(lines);
      },
      close: () => real.close(),
    };
    const log = await open(base, { sink: counting });
    const entries = await Promise.all(
      Array.from({ length: 50 }, (_, i) => log.append(record({ requestId: `r${i}` }))),
    );
    await log.close();
    expect(new Set(entries.map((e) => e.seq)).size).toBe(50);
    expect(writes).toBeLessThan(50);
    expect(await verifyLog(base, KEY)).toMatchObject({ ok: true, count: 50 });
  });

  it("a failed write rejects and leaves the chain intact for the next append", async () => {
    const base = tempBase();
    const real = new SegmentedFileSink(base, { segment: 1, segmentBytes: 1 << 20 });
    let fail = false;
    const sink: AuditSink = {
      append: (lines) => (fail ? Promise.reject(new Error("EIO")) : real.append(lines)),
      close: () => real.close(),
    };
    const log = await open(base, { sink });
    await log.append(record());
    fail = true;
    await expect(log.append(record())).rejects.toThrow("EIO");
    fail = false;
    expect((await log.append(record())).seq).toBe(2);
    expect((await log.list(record().owner, { limit: 5 })).entries.map((e) => e.seq)).toEqual([2, 1]);
    await log.close();
    expect(await verifyLog(base, KEY)).toMatchObject({ ok: true, count: 2 });
  });

  it("refuses writes while the volume is under the reserve, writing nothing", async () => {
    const base = tempBase();
    const log = await open(base, { diskReserveBytes: 2 ** 50 });
    await expect(log.ensureCapacity()).rejects.toThrow(AuditDiskFullError);
    await expect(log.append(record())).rejects.toThrow(AuditDiskFullError);
    await log.close();
    expect(existsSync(segmentPath(base, 1))).toBe(false);
  });

  it("refuses all writes once refused (the chain no longer matches the edge)", async () => {
    const { base } = await writeLog(1);
    const log = await open(base);
    log.refuse("anchor conflict");
    await expect(log.ensureCapacity()).rejects.toThrow(AuditRefusedError);
    await expect(log.append(record())).rejects.toThrow(/anchor conflict/);
    await log.close();
  });
});

// Each case starts the CLI (a Node process) a few times; on a busy machine that takes seconds.
describe("audit:verify command", { timeout: 60_000 }, () => {
  const env = { ...process.env, AUDIT_CHAIN_KEY: KEY };
  const cli = (args: string[], extraEnv: Record<string, string> = {}) =>
    run(process.execPath, [VERIFY_CLI, ...args], { env: { ...env, ...extraEnv } }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e) => ({ code: e.code as number, stdout: e.stdout as string, stderr: e.stderr as string }),
    );

  it("prints OK with the count and head, or the first broken line, with exit 0/1", async () => {
    const { base, lines, head } = await writeLog(4, { instance: "origin-a" });
    const ok = await cli([base]);
    expect(ok).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^OK 4 entries up to seq 4 of origin-a, no anchor checked/),
    });
    const anchored = await cli([base, "--anchor", `origin-a:4:${head.hash}`]);
    expect(anchored.stdout).toMatch(/contains the anchor at seq 4/);
    rewrite(base, lines.slice(0, 3));
    const cut = await cli([base, "--anchor", `origin-a:4:${head.hash}`]);
    expect(cut).toMatchObject({ code: 1, stdout: expect.stringMatching(/^BROKEN .*\(tail cut\)/) });
    rewrite(base, [lines[0]!, lines[1]!, lines[3]!]);
    const broken = await cli([base]);
    expect(broken).toMatchObject({
      code: 1,
      stdout: expect.stringMatching(/^BROKEN in .*audit\.log\.000001 at line 3: seq is 4, expected 3/),
    });
  });

  it("takes the npm separator before the path, and fails on a path with no segments", async () => {
    const { base } = await writeLog(2);
    expect(await cli(["--", base])).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^OK 2 entries/),
    });
    expect(await cli([`${base}-missing`])).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/no audit segments/),
    });
  });

  it("needs the key and a well-formed anchor (exit 2), and says the wrong key is wrong", async () => {
    const { base } = await writeLog(1);
    expect(await cli([base], { AUDIT_CHAIN_KEY: "" })).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/AUDIT_CHAIN_KEY/),
    });
    expect(await cli([base, "--anchor", "nonsense"])).toMatchObject({ code: 2 });
    expect(await cli([base], { AUDIT_CHAIN_KEY: OTHER_KEY })).toMatchObject({
      code: 1,
      stdout: expect.stringMatching(/another key/),
    });
  });
});

describe("chain MAC", () => {
  it("is keyed: the same text under another key gives another MAC", () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        expect(chainMac(KEY, text)).not.toBe(chainMac(OTHER_KEY, text));
      }),
    );
  });
});
