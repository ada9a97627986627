import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { OnePasswordConnect } from "@1password/connect";
import {
  AuditListResponseSchema,
  CredentialResponseSchema,
  importSigningKey,
  ProblemSchema,
  signRequest,
} from "@chittyconnect/contract";
import { compactDecrypt, exportJWK, generateKeyPair } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningStack, repoRoot, startStack } from "../support/stack.ts";

const run = promisify(execFile);
const OWNER = "01-C-E2E-0001-P-2611-A-1";
const PATH = "services/chittyid/service_token";

let stack: RunningStack;

async function mint(scopes: string[], owner = OWNER): Promise<string> {
  const response = await fetch(`${stack.edgeUrl}/api/v1/admin/tokens`, {
    method: "POST",
    headers: { authorization: `Bearer ${stack.adminToken}`, "content-type": "application/json" },
    // Credential tokens are bound to the one service these tests ask for.
    body: JSON.stringify({
      owner,
      scopes,
      ...(scopes.some((scope) => scope.startsWith("credentials:")) ? { services: ["chittyid"] } : {}),
    }),
  });
  expect(response.status).toBe(201);
  const { token } = (await response.json()) as { token: string };
  stack.track(token);
  return token;
}

function provision(token: string, body: object, headers: Record<string, string> = {}) {
  return fetch(`${stack.edgeUrl}/api/v1/credentials/provision`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

async function expectProblem(response: Response, status: number) {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toContain("application/problem+json");
  return ProblemSchema.parse(await response.json());
}

/** The value as 1Password (here: the dev Connect server) holds it, read with the official SDK. */
async function valueInVault(): Promise<string> {
  const op = OnePasswordConnect({
    serverURL: stack.connectUrl,
    token: stack.secrets().connectToken,
    keepAlive: false,
  });
  const vault = (await op.listVaults()).find((v) => v.name === "services");
  const item = await op.getItemByTitle(vault!.id!, "chittyid");
  return item.fields!.find((f) => f.label === "service_token")!.value!;
}

describe("end to end: npm start's stack, driven over HTTP", () => {
  beforeAll(async () => {
    stack = await startStack();
  }, 200_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it("the banner's provision command works as printed", async () => {
    const banner = stack.output();
    const start = banner.indexOf("Provision a credential through the edge:");
    const block = banner.slice(start).split("\n").slice(1, 4).join("\n");
    expect(block).toContain("curl");
    const { stdout } = await run("bash", ["-c", block]);
    const body = CredentialResponseSchema.parse(JSON.parse(stdout));
    expect(body.sealed).toBe(false);
    if (!body.sealed) expect(body.value).toBe(await valueInVault());
  });

  it("starts offline without wrangler's cf.json fetch failing", () => {
    expect(stack.output()).not.toContain("ENOTFOUND");
    expect(stack.output()).not.toContain("workers.cloudflare.com");
  });

  it("the README's sealed-delivery block, after the banner's export lines, prints the value", async () => {
    const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("### Sealed delivery"));
    const block = /```sh\n([\s\S]*?)\n```/.exec(section)?.[1];
    expect(block).toContain("crypto.subtle.generateKey");
    const exports = stack
      .output()
      .split("\n")
      .filter((line) => /^ {3}export (EDGE|TOKEN|ADMIN_TOKEN)=/.test(line))
      .map((line) => line.trim());
    expect(exports).toHaveLength(3);
    // Run where a user would: a folder of their own, with the repository's node_modules for jose.
    const dir = mkdtempSync(join(tmpdir(), "chitty-readme-"));
    try {
      symlinkSync(join(repoRoot, "node_modules"), join(dir, "node_modules"));
      const script = [...exports, block].join("\n");
      const { stdout } = await run("bash", ["-e", "-c", script], {
        cwd: dir,
        env: { PATH: process.env.PATH },
      });
      const sealed = JSON.parse(readFileSync(join(dir, "sealed.json"), "utf8"));
      expect(sealed.sealed).toBe(true);
      expect(stdout.trim()).toBe(await valueInVault());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("provisions unsealed and sealed, and the audit log shows both", async () => {
    const token = await mint(["credentials:provision"]);
    const plain = await provision(token, { service: "chittyid", credentialPath: PATH, purpose: "e2e plain" });
    expect(plain.status).toBe(200);
    expect(plain.headers.get("cache-control")).toContain("no-store");
    const plainBody = CredentialResponseSchema.parse(await plain.json());
    if (plainBody.sealed) throw new Error("expected a plain value");
    expect(plainBody.value).toBe(await valueInVault());
    expect(Date.parse(plainBody.lease.expiresAt)).toBeGreaterThan(Date.parse(plainBody.lease.issuedAt));

    const recipient = await generateKeyPair("ECDH-ES", { crv: "P-256" });
    const publicJwk = await exportJWK(recipient.publicKey);
    const sealed = await provision(token, {
      service: "chittyid",
      credentialPath: PATH,
      purpose: "e2e sealed",
      recipientPublicKey: { kty: publicJwk.kty, crv: publicJwk.crv, x: publicJwk.x, y: publicJwk.y },
    });
    expect(sealed.status).toBe(200);
    const sealedText = await sealed.text();
    expect(sealedText).not.toContain(plainBody.value);
    const sealedBody = CredentialResponseSchema.parse(JSON.parse(sealedText));
    if (!sealedBody.sealed) throw new Error("expected a JWE");
    const { plaintext } = await compactDecrypt(sealedBody.jwe, recipient.privateKey);
    expect(new TextDecoder().decode(plaintext)).toBe(plainBody.value);

    const audit = await fetch(`${stack.edgeUrl}/api/v1/credentials/audit?limit=10`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(audit.status).toBe(200);
    const auditText = await audit.text();
    expect(auditText).not.toContain(plainBody.value);
    const { entries } = AuditListResponseSchema.parse(JSON.parse(auditText));
    const purposes = entries.map((e) => `${e.purpose}:${e.outcome}:${e.sealed}`);
    expect(purposes).toEqual(expect.arrayContaining(["e2e plain:allowed:false", "e2e sealed:allowed:true"]));
    expect(entries.every((e) => e.owner === OWNER)).toBe(true);
  });

  it("anchors the origin's audit chain at the edge, and audit:verify checks the log against it", async () => {
    const token = await mint(["credentials:provision"]);
    for (const purpose of ["e2e anchor 1", "e2e anchor 2"]) {
      expect((await provision(token, { service: "chittyid", credentialPath: PATH, purpose })).status).toBe(
        200,
      );
    }
    const secrets = stack.secrets();
    const env = {
      ...process.env,
      AUDIT_CHAIN_KEY: secrets.auditChainKey,
      EDGE_SIGNING_KEY: secrets.edgeSigningKey,
    };
    const base = join(stack.stateDir, "audit", "audit.log");
    const verify = () =>
      run(process.execPath, ["origin/src/audit/verify-cli.ts", base, "--edge", stack.edgeUrl], {
        cwd: repoRoot,
        env,
      });
    // The local stack anchors every 5 s: wait until the edge holds a head that includes this test's lines.
    let stdout = "";
    for (let i = 0; i < 30; i++) {
      stdout = (await verify()).stdout;
      const anchored = /contains the anchor at seq (\d+)/.exec(stdout);
      const total = /^OK (\d+) entries/.exec(stdout);
      if (anchored && total && anchored[1] === total[1]) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(stdout).toMatch(
      /^OK (\d+) entries up to seq \1 of origin-[0-9a-f]+, contains the anchor at seq \1 /,
    );
  }, 60_000);

  it("answers each refusal with a clear 4xx", async () => {
    const readOnly = await mint(["usage:read"]);
    const good = await mint(["credentials:provision"]);
    const request = { service: "chittyid", credentialPath: PATH, purpose: "e2e refusals" };

    expect((await expectProblem(await provision(readOnly, request), 403)).detail).toContain(
      "credentials:provision",
    );
    await expectProblem(await provision(good, request, { "x-chittyid": "01-C-SOMEONE-ELSE-A-1" }), 403);
    await expectProblem(await provision("cc_not_a_real_token", request), 401);
    await expectProblem(
      await provision(good, { ...request, credentialPath: "emergency/break-glass/password" }),
      403,
    );
    await expectProblem(await provision(good, { ...request, credentialPath: "services/chittyid" }), 400);

    const audit = await fetch(`${stack.edgeUrl}/api/v1/credentials/audit?limit=20`, {
      headers: { authorization: `Bearer ${good}` },
    });
    const { entries } = AuditListResponseSchema.parse(await audit.json());
    expect(entries.some((e) => e.credentialPath.startsWith("emergency/") && e.outcome === "denied")).toBe(
      true,
    );
  });

  it("the origin refuses unsigned and replayed requests", async () => {
    const body = JSON.stringify({ service: "chittyid", credentialPath: PATH, purpose: "e2e replay" });
    const url = `${stack.originUrl}/v1/credentials/provision`;
    const unsigned = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    await expectProblem(unsigned, 401);

    const key = await importSigningKey(stack.secrets().edgeSigningKey);
    const headers = {
      "content-type": "application/json",
      ...(await signRequest({ method: "POST", url, body, owner: OWNER, services: ["chittyid"], key })),
    };
    expect((await fetch(url, { method: "POST", headers, body })).status).toBe(200);
    await expectProblem(await fetch(url, { method: "POST", headers, body }), 401);
  });

  it("rotates once for two requests with one Idempotency-Key, the second a replay", async () => {
    const token = await mint(["credentials:rotate"]);
    const rotate = (purpose: string) =>
      fetch(`${stack.edgeUrl}/api/v1/credentials/rotate`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          "idempotency-key": "e2e-rotate-once-0001",
        },
        body: JSON.stringify({ service: "chittyid", credentialPath: PATH, purpose }),
      });
    const before = await valueInVault();
    const first = CredentialResponseSchema.parse(await (await rotate("e2e idempotent")).json());
    const second = CredentialResponseSchema.parse(await (await rotate("e2e idempotent")).json());
    if (first.sealed || second.sealed) throw new Error("expected plain values");
    expect(first.value).not.toBe(before);
    expect(second).toMatchObject({ replayed: true, value: first.value, version: first.version });
    expect(await valueInVault()).toBe(first.value);
    const reused = await expectProblem(await rotate("another purpose"), 422);
    expect(reused.code).toBe("idempotency_key_reused");
  });

  it("reports every hop in /api/v1/status", async () => {
    const response = await fetch(`${stack.edgeUrl}/api/v1/status`);
    expect(response.status).toBe(200);
    const status = (await response.json()) as { status: string; checks: Record<string, { ok: boolean }> };
    expect(status.status).toBe("ok");
    expect(status.checks.origin?.ok).toBe(true);
    expect(status.checks.connect?.ok).toBe(true);
  });

  it("Ctrl-C stops everything cleanly and exits 130, as the README says", async () => {
    const code = await stack.stop("SIGINT");
    expect(code).toBe(130);
    for (const url of [stack.edgeUrl, stack.originUrl, stack.connectUrl]) {
      await expect(fetch(url, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
    }
  });
});
