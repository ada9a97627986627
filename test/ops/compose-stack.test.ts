import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CredentialResponseSchema } from "@chittyconnect/contract";
import {
  DockerComposeEnvironment,
  getContainerRuntimeClient,
  type StartedDockerComposeEnvironment,
  Wait,
} from "testcontainers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signedFetch, signingKey } from "../../origin/test/helpers/signed-fetch.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SIGNING_SECRET = "edge-signing-secret-for-compose-tests-0123456789";
const OWNER = "01-C-TEST-0001-P-2501-A-X";
const ENGINE_PROBE_MS = 15_000;

/** Undefined when a Docker engine answers; otherwise why not. */
async function engineUnavailable(): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${ENGINE_PROBE_MS} ms`)), ENGINE_PROBE_MS);
  });
  try {
    const client = await Promise.race([getContainerRuntimeClient(), timeout]);
    return client.info.containerRuntime.host ? undefined : "the engine reported no host";
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    clearTimeout(timer);
  }
}

const unavailable = await engineUnavailable();
if (unavailable !== undefined) {
  console.warn(`compose stack test skipped: no Docker engine reachable (${unavailable.split("\n")[0]})`);
}

describe.skipIf(unavailable !== undefined)("docker compose stack (dev Connect in place of 1Password)", () => {
  let dir: string;
  let stack: StartedDockerComposeEnvironment;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "chitty-compose-"));
    // Only 1Password's (disabled) services read it, but compose resolves every secret file.
    const credentials = join(dir, "1password-credentials.json");
    writeFileSync(credentials, "{}");
    const tunnelToken = Buffer.from(JSON.stringify({ a: "a", t: "t", s: "cw==" })).toString("base64");
    stack = await new DockerComposeEnvironment(ROOT, ["docker-compose.yml", "docker-compose.dev.yml"])
      .withBuild()
      .withEnvironment({
        OP_CONNECT_TOKEN: "dev-connect-token-for-compose-tests",
        EDGE_SIGNING_KEY: SIGNING_SECRET,
        AUDIT_HMAC_KEY: "audit-hmac-key-for-compose-tests-0123456789",
        AUDIT_CHAIN_KEY: "audit-chain-key-for-tests-0123456789abcdef",
        CLOUDFLARE_TUNNEL_TOKEN: tunnelToken,
        OP_CREDENTIALS_FILE: credentials,
        ORIGIN_TAG: "compose-test",
      })
      .withWaitStrategy("nginx-1", Wait.forHealthCheck())
      .withWaitStrategy("origin-1", Wait.forHealthCheck())
      .withStartupTimeout(240_000)
      .up();
  }, 600_000);

  afterAll(async () => {
    await stack?.down({ removeVolumes: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it("provisions a credential through nginx, the origin and Connect", async () => {
    const nginx = stack.getContainer("nginx-1");
    const url = `http://${nginx.getHost()}:${nginx.getMappedPort(8080)}`;
    const response = await signedFetch(`${url}/v1/credentials/provision`, {
      key: await signingKey(SIGNING_SECRET),
      owner: OWNER,
      body: {
        service: "chittyid",
        credentialPath: "services/chittyid/service_token",
        purpose: "compose-test",
      },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const body = CredentialResponseSchema.parse(await response.json());
    expect(body.sealed).toBe(false);

    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
  });

  it("serves nothing on routes outside the API", async () => {
    const nginx = stack.getContainer("nginx-1");
    const response = await fetch(`http://${nginx.getHost()}:${nginx.getMappedPort(8080)}/metrics`);
    expect(response.status).toBe(404);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
  });
});
