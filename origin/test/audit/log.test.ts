import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { AuditEntrySchema } from "@chittyconnect/contract";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { verifyChain } from "../../src/audit/chain.ts";
import {
  type AuditRecord,
  canonicalJson,
  entryHash,
  GENESIS_HASH,
  valueHmac,
} from "../../src/audit/entry.ts";
import { AuditChainBrokenError, AuditLog } from "../../src/audit/log.ts";
import { type AuditSink, FileAuditSink } from "../../src/audit/sink.ts";

const run = promisify(execFile);
const VERIFY_CLI = new URL("../../src/audit/verify-cli.ts", import.meta.url).pathname;

const tempFile = () => join(mkdtempSync(join(tmpdir(), "audit-")), "nested", "audit.log");

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

async function writeLog(count: number): Promise<{ file: string; lines: string[] }> {
  const file = tempFile();
  const log = await AuditLog.open(new FileAuditSink(file));
  for (let i = 0; i < count; i++) await log.append(record({ requestId: `req-${i + 1}` }));
  await log.close();
  return { file, lines: readFileSync(file, "utf8").trimEnd().split("\n") };
}

const joinLines = (lines: string[]) => `${lines.join("\n")}\n`;

describe("audit log", () => {
  it("writes one contract-shaped, hash-chained line per append and never the value", async () => {
    const { lines } = await writeLog(3);
    expect(lines).toHaveLength(3);
    const entries = lines.map((line) => AuditEntrySchema.parse(JSON.parse(line)));
    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(entries[0]?.prevHash).toBe(GENESIS_HASH);
    expect(entries[1]?.prevHash).toBe(entries[0]?.hash);
    expect(entries[2]?.hash).toBe(entryHash(entries[2] as never));
    expect(lines.join("\n")).not.toContain("secret");
    expect(verifyChain(joinLines(lines))).toMatchObject({ ok: true, count: 3 });
  });

  it("resumes seq and prevHash after a restart", async () => {
    const { file } = await writeLog(2);
    const log = await AuditLog.open(new FileAuditSink(file));
    const entry = await log.append(record());
    await log.close();
    expect(entry.seq).toBe(3);
    expect(verifyChain(readFileSync(file, "utf8"))).toMatchObject({ ok: true, count: 3 });
  });

  it("detects a changed value, a deleted line and reordered lines at the right line", async () => {
    const { lines } = await writeLog(5);
    const changed = [...lines];
    changed[2] = (changed[2] as string).replace('"outcome":"allowed"', '"outcome":"denied"');
    expect(verifyChain(joinLines(changed))).toMatchObject({
      ok: false,
      line: 3,
      reason: expect.stringMatching(/hash/),
    });

    const deleted = lines.filter((_, index) => index !== 1);
    expect(verifyChain(joinLines(deleted))).toMatchObject({
      ok: false,
      line: 2,
      reason: expect.stringMatching(/seq/),
    });

    const reordered = [lines[0], lines[2], lines[1], lines[3], lines[4]] as string[];
    expect(verifyChain(joinLines(reordered))).toMatchObject({ ok: false, line: 2 });

    const lastDropped = lines.slice(0, 4);
    expect(verifyChain(joinLines(lastDropped))).toMatchObject({ ok: true, count: 4 });

    const rehashed = JSON.parse(lines[3] as string);
    rehashed.purpose = "forged";
    rehashed.hash = entryHash(rehashed);
    const forged = [...lines];
    forged[3] = JSON.stringify(rehashed);
    expect(verifyChain(joinLines(forged))).toMatchObject({
      ok: false,
      line: 5,
      reason: expect.stringMatching(/prevHash/),
    });

    expect(verifyChain(`${joinLines(lines)}{"torn":`)).toMatchObject({ ok: false, line: 6 });
  });

  it("detects a member added to a line", async () => {
    const { lines } = await writeLog(2);
    const injected = lines[1]!.replace(/^\{/, '{"injected":"x",');
    expect(verifyChain(joinLines([lines[0]!, injected]))).toMatchObject({ ok: false, line: 2 });
  });

  it("refuses to open a broken log", async () => {
    const { file, lines } = await writeLog(3);
    writeFileSync(file, joinLines([lines[0], lines[2]] as string[]));
    await expect(AuditLog.open(new FileAuditSink(file), { source: file })).rejects.toThrow(
      AuditChainBrokenError,
    );
    await expect(AuditLog.open(new FileAuditSink(file), { source: file })).rejects.toThrow(/line 2/);
  });

  it("keeps a valid chain under concurrent appends", async () => {
    const file = tempFile();
    const log = await AuditLog.open(new FileAuditSink(file));
    const entries = await Promise.all(
      Array.from({ length: 50 }, (_, i) => log.append(record({ requestId: `r${i}` }))),
    );
    await log.close();
    expect(new Set(entries.map((e) => e.seq)).size).toBe(50);
    expect(verifyChain(readFileSync(file, "utf8"))).toMatchObject({ ok: true, count: 50 });
  });

  it("writes appends that arrive during a flush together (group commit)", async () => {
    const file = tempFile();
    const real = new FileAuditSink(file);
    let writes = 0;
    const counting: AuditSink = {
      append: (lines) => {
        writes += 1;
        return real.append(lines);
      },
      read: () => real.read(),
      close: () => real.close(),
    };
    const log = await AuditLog.open(counting);
    await Promise.all(Array.from({ length: 40 }, (_, i) => log.append(record({ requestId: `g${i}` }))));
    await log.close();
    expect(writes).toBeLessThan(40);
    expect(verifyChain(readFileSync(file, "utf8"))).toMatchObject({ ok: true, count: 40 });
  });

  it("a failed write rejects and leaves the chain intact for the next append", async () => {
    const file = tempFile();
    const real = new FileAuditSink(file);
    let fail = false;
    const sink: AuditSink = {
      append: (line) => (fail ? Promise.reject(new Error("disk full")) : real.append(line)),
      read: () => real.read(),
      close: () => real.close(),
    };
    const log = await AuditLog.open(sink);
    await log.append(record());
    fail = true;
    await expect(log.append(record())).rejects.toThrow("disk full");
    fail = false;
    expect((await log.append(record())).seq).toBe(2);
    await log.close();
    expect(verifyChain(readFileSync(file, "utf8"))).toMatchObject({ ok: true, count: 2 });
  });

  it("lists one owner's entries newest first with paging", async () => {
    const file = tempFile();
    const log = await AuditLog.open(new FileAuditSink(file));
    for (let i = 0; i < 7; i++) {
      await log.append(record({ owner: i % 2 === 0 ? "alice-01" : "bob-0001", requestId: `r${i + 1}` }));
    }
    const first = await log.list("alice-01", { limit: 3 });
    expect(first.entries.map((e) => e.seq)).toEqual([7, 5, 3]);
    expect(first.nextBefore).toBe(3);
    const second = await log.list("alice-01", { limit: 3, before: 3 });
    expect(second.entries.map((e) => e.seq)).toEqual([1]);
    expect(second.nextBefore).toBeUndefined();
    expect((await log.list("bob-0001", { limit: 50 })).entries.every((e) => e.owner === "bob-0001")).toBe(
      true,
    );
    expect((await log.list("nobody-1", { limit: 50 })).entries).toEqual([]);
    await log.close();
  });
});

describe("canonical JSON", () => {
  it("is independent of key order and parses back to the same value", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.integer(), fc.boolean())), (object) => {
        const reversed = Object.fromEntries(Object.entries(object).reverse());
        expect(canonicalJson(reversed)).toBe(canonicalJson(object));
        expect(JSON.parse(canonicalJson(object))).toEqual(object);
      }),
    );
  });

  it("any single-character edit of a line's purpose breaks verification at that line", async () => {
    const { lines } = await writeLog(3);
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 20 }), (purpose) => {
        fc.pre(purpose !== "boot");
        const edited = [...lines];
        const entry = JSON.parse(lines[1] as string);
        edited[1] = JSON.stringify({ ...entry, purpose });
        expect(verifyChain(joinLines(edited))).toMatchObject({ ok: false, line: 2 });
      }),
    );
  });
});

describe("audit:verify command", () => {
  it("prints OK with the count, or the first broken line, with exit 0/1", async () => {
    const { file, lines } = await writeLog(4);
    const ok = await run(process.execPath, [VERIFY_CLI, file]);
    expect(ok.stdout).toBe("OK 4 entries\n");
    writeFileSync(file, joinLines([lines[0], lines[1], lines[3]] as string[]));
    const broken = await run(process.execPath, [VERIFY_CLI, file]).catch((error) => error);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/^BROKEN at line 3: seq is 4, expected 3/);
  });
});
