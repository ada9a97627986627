import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Headers, type SigningKey } from "@chittyconnect/contract";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signedFetch, signingKey } from "../helpers/signed-fetch.ts";
import { OWNER, SIGNING_SECRET, startTestOrigin, type TestOrigin } from "../http/harness.ts";

const AUDIENCE = "chittyconnect-origin-aud";
const ISSUER = "https://chitty.cloudflareaccess.com";

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];

let jwks: Server;
let jwksUrl: string;
let accessKey: PrivateKey;
let otherKey: PrivateKey;
let origin: TestOrigin;
let key: SigningKey;

beforeAll(async () => {
  const pair = await generateKeyPair("ES256");
  accessKey = pair.privateKey;
  otherKey = (await generateKeyPair("ES256")).privateKey;
  const publicJwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: "access-1", alg: "ES256", use: "sig" };
  jwks = createServer((_request, response) => {
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify({ keys: [publicJwk] }));
  });
  await new Promise<void>((resolve) => jwks.listen(0, "127.0.0.1", resolve));
  jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/cdn-cgi/access/certs`;
  origin = await startTestOrigin({
    ACCESS_JWKS_URL: jwksUrl,
    ACCESS_AUDIENCE: AUDIENCE,
    ACCESS_ISSUER: ISSUER,
  });
  key = await signingKey(SIGNING_SECRET);
});

afterAll(async () => {
  await origin.close();
  await new Promise((resolve) => jwks.close(resolve));
});

interface TokenOptions {
  audience?: string;
  issuer?: string;
  /** null leaves the claim out. */
  expiresAt?: number | null;
  issuedAt?: number | null;
  signer?: PrivateKey;
}

function accessToken(options: TokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ email: "edge@chitty.example" })
    .setProtectedHeader({ alg: "ES256", kid: "access-1" })
    .setSubject("service-token-edge")
    .setAudience(options.audience ?? AUDIENCE)
    .setIssuer(options.issuer ?? ISSUER);
  const issuedAt = options.issuedAt === undefined ? now - 60 : options.issuedAt;
  const expiresAt = options.expiresAt === undefined ? now + 300 : options.expiresAt;
  if (issuedAt !== null) jwt.setIssuedAt(issuedAt);
  if (expiresAt !== null) jwt.setExpirationTime(expiresAt);
  return jwt.sign(options.signer ?? accessKey);
}

function auditWith(token: string | undefined): Promise<Response> {
  return signedFetch(`${origin.url}/v1/audit`, {
    key,
    owner: OWNER,
    headers: token === undefined ? {} : { [Headers.accessJwt]: token },
  });
}

describe("Cloudflare Access JWT", () => {
  it("lets a signed request with a valid token through", async () => {
    expect((await auditWith(await accessToken())).status).toBe(200);
  });

  it.each<[string, () => Promise<string | undefined>]>([
    ["missing", async () => undefined],
    ["for another audience", () => accessToken({ audience: "someone-else" })],
    ["from another issuer", () => accessToken({ issuer: "https://evil.example" })],
    ["expired", () => accessToken({ expiresAt: Math.floor(Date.now() / 1000) - 120 })],
    ["without an expiry", () => accessToken({ expiresAt: null })],
    ["without an issue time", () => accessToken({ issuedAt: null })],
    ["issued a minute in the future", () => accessToken({ issuedAt: Math.floor(Date.now() / 1000) + 60 })],
    ["signed by an unknown key", () => accessToken({ signer: otherKey })],
    ["garbage", async () => "not.a.jwt"],
  ])("rejects a token that is %s with the generic 401", async (label, make) => {
    const response = await auditWith(await make());
    expect(response.status).toBe(401);
    const problem = (await response.json()) as { code: string; detail: string };
    expect(problem).toMatchObject({
      code: "unauthenticated",
      detail: "The request could not be authenticated.",
    });
    const requestId = response.headers.get(Headers.requestId);
    const logged = origin
      .logs()
      .find((line) => line.requestId === requestId && line.msg === "access jwt rejected");
    expect(logged, label).toMatchObject({ level: 40 });
  });

  it("accepts a token issued within the clock skew ahead of this host", async () => {
    const issuedAt = Math.floor(Date.now() / 1000) + 3;
    expect((await auditWith(await accessToken({ issuedAt }))).status).toBe(200);
  });

  it("still requires the edge signature alongside a valid token", async () => {
    const response = await fetch(`${origin.url}/v1/audit`, {
      headers: { [Headers.accessJwt]: await accessToken() },
    });
    expect(response.status).toBe(401);
  });

  it("does not log the token", () => {
    expect(JSON.stringify(origin.logs())).not.toContain("eyJ");
  });

  it("answers 503 with Retry-After, not 401, when the Access keys cannot be fetched", async () => {
    const down = createServer((_request, response) => {
      response.writeHead(500);
      response.end();
    });
    await new Promise<void>((resolve) => down.listen(0, "127.0.0.1", resolve));
    const unreachable = await startTestOrigin({
      ACCESS_JWKS_URL: `http://127.0.0.1:${(down.address() as AddressInfo).port}/certs`,
      ACCESS_AUDIENCE: AUDIENCE,
    });
    try {
      const response = await signedFetch(`${unreachable.url}/v1/audit`, {
        key,
        owner: OWNER,
        headers: { [Headers.accessJwt]: await accessToken() },
      });
      expect(response.status).toBe(503);
      expect(response.headers.get("retry-after")).toBe("5");
      expect(((await response.json()) as { code: string }).code).toBe("access_keys_unavailable");
    } finally {
      await unreachable.close();
      await new Promise((resolve) => down.close(resolve));
    }
  });

  it("is not required when Access is not configured", async () => {
    const open = await startTestOrigin();
    try {
      const response = await signedFetch(`${open.url}/v1/audit`, { key, owner: OWNER });
      expect(response.status).toBe(200);
    } finally {
      await open.close();
    }
  });
});
