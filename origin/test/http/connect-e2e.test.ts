import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type CredentialResponse, Headers, type SigningKey } from "@chittyconnect/contract";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningConnectServer, startConnectServer } from "../../../dev/src/connect/server.ts";
import { type RunningOrigin, startOrigin } from "../../src/server.ts";
import { signedFetch, signingKey } from "../helpers/signed-fetch.ts";
import { captureLogger, OWNER, SIGNING_SECRET, testConfig } from "./harness.ts";

/** The origin served by the real credential service against the dev 1Password Connect server. */
const CONNECT_TOKEN = "dev-connect-token-for-origin-http-tests";
const SERVICE_TOKEN = "dev-chittyid-service-token-7f3c9a41";
const PATH = "services/chittyid/service_token";
const POLICY = `version: 1
rules:
  - owners: ["${OWNER}"]
    services: [chittyid]
    actions: [provision, rotate]
    paths: ["services/**"]
    purposes: ["*"]
`;

let dir: string;
let connect: RunningConnectServer;
let origin: RunningOrigin;
let key: SigningKey;
let env: Record<string, string>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "origin-http-e2e-"));
  writeFileSync(join(dir, "policy.yaml"), POLICY);
  connect = await startConnectServer({ port: 0, token: CONNECT_TOKEN });
  env = {
    OP_CONNECT_HOST: connect.url,
    OP_CONNECT_TOKEN: CONNECT_TOKEN,
    POLICY_FILE: join(dir, "policy.yaml"),
    AUDIT_LOG_FILE: join(dir, "audit.log"),
  };
  origin = await startOrigin({ config: testConfig(env), logger: captureLogger().logger });
  key = await signingKey(SIGNING_SECRET);
});

afterAll(async () => {
  await origin?.close();
  await connect?.close();
  rmSync(dir, { recursive: true, force: true });
});

function spawnMain(extra: Record<string, string>) {
  return spawn(process.execPath, [fileURLToPath(new URL("../../src/main.ts", import.meta.url))], {
    env: {
      PATH: process.env.PATH ?? "",
      ...env,
      EDGE_SIGNING_KEY: SIGNING_SECRET,
      AUDIT_HMAC_KEY: "audit-hmac-key-for-tests-0123456789abcdef",
      AUDIT_CHAIN_KEY: "audit-chain-key-for-tests-0123456789abcdef",
      AUDIT_LOG_FILE: join(dir, "main-audit.log"),
      HOST: "127.0.0.1",
      PORT: "0",
      ...extra,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

const provision = (path: string, owner = OWNER, purpose = "e2e") =>
  signedFetch(`${origin.url}/v1/credentials/provision`, {
    key,
    owner,
    body: { service: "chittyid", credentialPath: path, purpose },
  });

describe("origin over the dev Connect server", () => {
  it("becomes ready once the boot-time warm-up made Connect sync", async () => {
    let status = 0;
    for (let attempt = 0; attempt < 50 && status !== 200; attempt++) {
      status = (await fetch(`${origin.url}/readyz`)).status;
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(status).toBe(200);
  });

  it("provisions the fixture's service token with a lease and no-store", async () => {
    const response = await provision(PATH);
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const body = (await response.json()) as CredentialResponse;
    expect(body).toMatchObject({ credentialPath: PATH, sealed: false, value: SERVICE_TOKEN });
  });

  it("rotates to a value Connect generated, then serves the new one", async () => {
    const rotated = await signedFetch(`${origin.url}/v1/credentials/rotate`, {
      key,
      owner: OWNER,
      body: { service: "chittyid", credentialPath: PATH, purpose: "e2e" },
    });
    expect(rotated.status).toBe(200);
    const renewed = (await rotated.json()) as CredentialResponse & { value: string };
    expect(renewed.value).not.toBe(SERVICE_TOKEN);
    const again = (await (await provision(PATH)).json()) as { value: string };
    expect(again.value).toBe(renewed.value);
  });

  it("answers a path outside the policy with 403 and an unknown item with 404", async () => {
    const denied = await provision("infrastructure/anything/password");
    expect(denied.status).toBe(403);
    expect(denied.headers.get("content-type")).toBe("application/problem+json");
    const missing = await provision("services/no-such-item/password");
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { requestId?: string }).requestId).toBe(
      missing.headers.get(Headers.requestId),
    );
  });

  it("lists the signed owner's audit entries only", async () => {
    const mine = await signedFetch(`${origin.url}/v1/audit?limit=10`, { key, owner: OWNER });
    expect(mine.status).toBe(200);
    const list = (await mine.json()) as { entries: { owner: string; action: string }[] };
    expect(list.entries.length).toBeGreaterThanOrEqual(3);
    expect(list.entries.every((entry) => entry.owner === OWNER)).toBe(true);
    const other = await signedFetch(`${origin.url}/v1/audit`, { key, owner: "01-C-TEST-0077-P-2501-A-X" });
    expect(((await other.json()) as { entries: unknown[] }).entries).toEqual([]);
  });

  it("runs main.ts until SIGTERM, then closes gracefully with exit code 0", async () => {
    const child = spawnMain({});
    let stdout = "";
    const listening = new Promise<void>((resolve) => {
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes("origin listening")) resolve();
      });
    });
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
    await listening;
    const line = JSON.parse(stdout.split("\n").find((text) => text.includes("origin listening")) ?? "{}");
    expect(line.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await fetch(`${line.url}/healthz`)).status).toBe(200);
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });

  it("makes main.ts exit 1 naming a bad policy file", async () => {
    const badPolicy = join(dir, "bad-policy.yaml");
    writeFileSync(badPolicy, "version: 2\nrules: nope\n");
    const child = spawnMain({ POLICY_FILE: badPolicy });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code).toBe(1);
    expect(stderr).toContain(badPolicy);
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});
