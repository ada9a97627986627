import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadOrCreateSecrets } from "../src/stack/secrets.ts";

describe("local stack secrets", () => {
  it("generates every key once, 0600, and reuses them", () => {
    const dir = mkdtempSync(join(tmpdir(), "stack-secrets-"));
    const first = loadOrCreateSecrets(dir);
    expect(first.created).toBe(true);
    expect(first.secrets.auditChainKey.length).toBeGreaterThanOrEqual(32);
    expect(first.secrets.auditChainKey).not.toBe(first.secrets.auditHmacKey);
    expect(statSync(join(dir, "secrets.json")).mode & 0o777).toBe(0o600);
    expect(loadOrCreateSecrets(dir)).toEqual({ secrets: first.secrets, created: false });
  });

  it("adds the audit chain key to a secrets.json written before it, once", () => {
    const dir = mkdtempSync(join(tmpdir(), "stack-secrets-"));
    const file = join(dir, "secrets.json");
    const older = {
      adminToken: "adm_0123456789abcdef",
      edgeSigningKey: "e".repeat(43),
      auditHmacKey: "h".repeat(43),
      connectToken: "dev-connect-0123456789",
    };
    writeFileSync(file, JSON.stringify(older), { mode: 0o600 });
    const upgraded = loadOrCreateSecrets(dir);
    expect(upgraded.created).toBe(false);
    expect(upgraded.secrets).toMatchObject(older);
    expect(JSON.parse(readFileSync(file, "utf8")).auditChainKey).toBe(upgraded.secrets.auditChainKey);
    expect(loadOrCreateSecrets(dir).secrets.auditChainKey).toBe(upgraded.secrets.auditChainKey);
  });
});
