import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { OnePasswordConnect } from "@1password/connect";
import { type ChittyClient, ChittyProblemError, createClient } from "@chittyconnect/client";
import {
  AuditListResponseSchema,
  CredentialResponseSchema,
  importSigningKey,
  ProblemSchema,
  signRequest,
} from "@chittyconnect/contract";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningStack, repoRoot, startStack } from "../support/stack.ts";

const run = promisify(execFile);
const OWNER = "01-C-E2E-0001-P-2611-A-1";
const PATH = "services/chittyid/service_token";

let stack: RunningStack;
type Scope = Parameters<ChittyClient["tokens"]["mint"]>[0]["scopes"][number];

/** The typed client, as a caller with `token` uses it. */
const edge = (token: string, options: { chittyId?: string } = {}) =>
  createClient({ baseUrl: stack.edgeUrl, token, ...options });

async function mint(scopes: Scope[], owner = OWNER): Promise<string> {
  const { token } = await edge(stack.adminToken).tokens.mint({
    owner,
    scopes,
    // Credential tokens are bound to the one service these tests ask for.
    ...(scopes.some((scope) => scope.startsWith("credentials:")) ? { services: ["chittyid"] } : {}),
  });
  stack.track(token);
  return token;
}

/** The origin is not the edge API: its answers are read raw. */
async function expectOriginProblem(response: Response, status: number) {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toContain("application/problem+json");
  return ProblemSchema.parse(await response.json());
}

/** The problem a call was refused with; fails when the call succeeded. */
async function expectProblem(call: Promise<unknown>, status: number): Promise<ChittyProblemError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ChittyProblemError);
  expect((error as ChittyProblemError).status).toBe(status);
  return error as ChittyProblemError;
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
    const client = edge(token);
    // Through the typed client's raw layer, to see the answer's headers.
    const plain = await client.raw.POST("/api/v1/credentials/provision", {
      body: { service: "chittyid", credentialPath: PATH, purpose: "e2e plain" },
    });
    expect(plain.response.status).toBe(200);
    expect(plain.response.headers.get("cache-control")).toContain("no-store");
    const plainBody = CredentialResponseSchema.parse(plain.data);
    if (plainBody.sealed) throw new Error("expected a plain value");
    expect(plainBody.value).toBe(await valueInVault());
    expect(Date.parse(plainBody.lease.expiresAt)).toBeGreaterThan(Date.parse(plainBody.lease.issuedAt));

    // Sealed (the client's default): the edge's answer is a JWE the client opens with its one-use key.
    const answers: string[] = [];
    const recording = createClient({
      baseUrl: stack.edgeUrl,
      token,
      fetch: async (request) => {
        const response = await fetch(request);
        answers.push(await response.clone().text());
        return response;
      },
    });
    const sealed = await recording.credentials.provision({
      service: "chittyid",
      credentialPath: PATH,
      purpose: "e2e sealed",
    });
    expect(sealed).toMatchObject({ sealed: true, value: plainBody.value });
    expect(answers).toHaveLength(1);
    expect(CredentialResponseSchema.parse(JSON.parse(answers[0] ?? "")).sealed).toBe(true);
    expect(answers[0]).not.toContain(plainBody.value);

    const audit = await client.raw.GET("/api/v1/credentials/audit", { params: { query: { limit: 10 } } });
    expect(audit.response.status).toBe(200);
    expect(JSON.stringify(audit.data)).not.toContain(plainBody.value);
    const { entries } = AuditListResponseSchema.parse(audit.data);
    const purposes = entries.map((e) => `${e.purpose}:${e.outcome}:${e.sealed}`);
    expect(purposes).toEqual(expect.arrayContaining(["e2e plain:allowed:false", "e2e sealed:allowed:true"]));
    expect(entries.every((e) => e.owner === OWNER)).toBe(true);
  });

  it("anchors the origin's audit chain at the edge, and audit:verify checks the log against it", async () => {
    const client = edge(await mint(["credentials:provision"]));
    for (const purpose of ["e2e anchor 1", "e2e anchor 2"]) {
      await client.credentials.provision({ service: "chittyid", credentialPath: PATH, purpose });
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
    const readOnly = edge(await mint(["usage:read"]));
    const goodToken = await mint(["credentials:provision"]);
    const good = edge(goodToken);
    const request = { service: "chittyid", credentialPath: PATH, purpose: "e2e refusals" };

    const scope = await expectProblem(readOnly.credentials.provision(request), 403);
    expect(scope.detail).toContain("credentials:provision");
    await expectProblem(
      edge(goodToken, { chittyId: "01-C-SOMEONE-ELSE-A-1" }).credentials.provision(request),
      403,
    );
    expect((await expectProblem(edge("cc_not_a_real_token").credentials.provision(request), 401)).code).toBe(
      "unauthorized",
    );
    const denied = await expectProblem(
      good.credentials.provision({ ...request, credentialPath: "emergency/break-glass/password" }),
      403,
    );
    expect(denied.requestId).toBeTruthy();
    // A path the contract refuses: raw, to see the problem's media type and schema as sent.
    const invalid = await good.raw.POST("/api/v1/credentials/provision", {
      body: { ...request, credentialPath: "services/chittyid" },
    });
    expect(invalid.response.status).toBe(400);
    expect(invalid.response.headers.get("content-type")).toContain("application/problem+json");
    expect(ProblemSchema.parse(invalid.error).code).toBe("validation_failed");

    const { entries } = await good.credentials.audit({ limit: 20 });
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
    await expectOriginProblem(unsigned, 401);

    const key = await importSigningKey(stack.secrets().edgeSigningKey);
    const headers = {
      "content-type": "application/json",
      ...(await signRequest({ method: "POST", url, body, owner: OWNER, services: ["chittyid"], key })),
    };
    expect((await fetch(url, { method: "POST", headers, body })).status).toBe(200);
    await expectOriginProblem(await fetch(url, { method: "POST", headers, body }), 401);
  });

  it("rotates once for two requests with one Idempotency-Key, the second a replay", async () => {
    const client = edge(await mint(["credentials:rotate"]));
    const rotate = (purpose: string) =>
      client.credentials.rotate({
        service: "chittyid",
        credentialPath: PATH,
        purpose,
        seal: false,
        idempotencyKey: "e2e-rotate-once-0001",
      });
    const before = await valueInVault();
    const first = await rotate("e2e idempotent");
    const second = await rotate("e2e idempotent");
    expect(first.value).not.toBe(before);
    expect(second).toMatchObject({ replayed: true, value: first.value, version: first.version });
    expect(await valueInVault()).toBe(first.value);
    const reused = await expectProblem(rotate("another purpose"), 422);
    expect(reused.code).toBe("idempotency_key_reused");
  });

  it("rotates sealed by default, and the client opens the new value", async () => {
    const client = edge(await mint(["credentials:rotate"]));
    const rotated = await client.credentials.rotate({
      service: "chittyid",
      credentialPath: PATH,
      purpose: "e2e",
    });
    expect(rotated.sealed).toBe(true);
    expect(rotated.value).toBe(await valueInVault());
  });

  it("reports every hop in /api/v1/status", async () => {
    const status = await createClient({ baseUrl: stack.edgeUrl }).status();
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
