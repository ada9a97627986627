import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";

/** Keys the local stack generates on its first run and reuses after, so tokens survive restarts. */
const StackSecretsSchema = z.object({
  adminToken: z.string().min(16),
  edgeSigningKey: z.string().min(32),
  auditHmacKey: z.string().min(32),
  auditChainKey: z.string().min(32),
  connectToken: z.string().min(16),
  documentUrlSigningKey: z.string().min(32),
});
export type StackSecrets = z.infer<typeof StackSecretsSchema>;

const fresh = (prefix = "") => prefix + randomBytes(32).toString("base64url");

export function loadOrCreateSecrets(stateDir: string): { secrets: StackSecrets; created: boolean } {
  const file = join(stateDir, "secrets.json");
  if (existsSync(file)) {
    const stored = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    // Keys added in a later version are generated once and kept with the others.
    const upgraded = { auditChainKey: fresh(), documentUrlSigningKey: fresh(), ...stored };
    const parsed = StackSecretsSchema.safeParse(upgraded);
    if (parsed.success) {
      if (!("auditChainKey" in stored) || !("documentUrlSigningKey" in stored)) {
        writeFileSync(file, `${JSON.stringify(parsed.data, null, 2)}\n`, { mode: 0o600 });
      }
      return { secrets: parsed.data, created: false };
    }
    throw new Error(
      `${file} is not valid (${parsed.error.issues[0]?.message}); delete it to generate new keys`,
    );
  }
  const secrets: StackSecrets = {
    adminToken: fresh("adm_"),
    edgeSigningKey: fresh(),
    auditHmacKey: fresh(),
    auditChainKey: fresh(),
    connectToken: fresh("dev-connect-"),
    documentUrlSigningKey: fresh(),
  };
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  writeFileSync(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
  return { secrets, created: true };
}
