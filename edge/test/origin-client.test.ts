import { createExecutionContext, env } from "cloudflare:test";
import { importSigningKey, MemoryNonceStore, ProblemError } from "@chittyconnect/contract";
import { describe, expect, it } from "vitest";
import { app } from "../src/index.ts";
import { OriginClient } from "../src/origin/client.ts";
import { TEST_SIGNING_KEY } from "./fake-origin.ts";
import { BASE, bearer, jsonInit, mintToken, uniqueOwner, verifyEdgeSignature } from "./helpers.ts";

const REQUEST = { service: "billing", credentialPath: "services/chittyid/service_token", purpose: "deploy" };

function callWithEnv(path: string, init: RequestInit, overrides: Partial<typeof env>) {
  return app.fetch(new Request(`${BASE}${path}`, init), { ...env, ...overrides }, createExecutionContext());
}

async function problemOf(promise: Promise<unknown>): Promise<ProblemError> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(ProblemError);
  return error as ProblemError;
}

describe("OriginClient transport", () => {
  it("answers 502 origin_unavailable when nothing listens at the origin", async () => {
    const token = (await mintToken(uniqueOwner(), ["credentials:provision"])).token;
    const response = await callWithEnv(
      "/api/v1/credentials/provision",
      jsonInit("POST", REQUEST, bearer(token)),
      { ORIGIN_URL: env.CLOSED_PORT_URL },
    );
    expect(response.status).toBe(502);
    expect(((await response.json()) as { code: string }).code).toBe("origin_unavailable");
  });

  it("sends no Access headers when the service token is not configured", async () => {
    const token = (await mintToken(uniqueOwner(), ["credentials:provision"])).token;
    const response = await callWithEnv(
      "/api/v1/credentials/provision",
      jsonInit("POST", REQUEST, bearer(token)),
      { CF_ACCESS_CLIENT_ID: undefined, CF_ACCESS_CLIENT_SECRET: undefined },
    );
    // The fake origin, like Access in front of the real one, refuses calls without the headers.
    expect(response.status).toBe(401);
    expect(((await response.json()) as { code: string }).code).toBe("access_denied");
  });

  it("goes through the ORIGIN_VPC binding when present, signed and with the URL's path", async () => {
    const seen: Request[] = [];
    const key = await importSigningKey(TEST_SIGNING_KEY);
    const nonces = new MemoryNonceStore();
    const client = new OriginClient({
      baseUrl: "https://origin.internal",
      timeoutMs: 1000,
      signingSecret: TEST_SIGNING_KEY,
      fetcher: {
        async fetch(request) {
          seen.push(request.clone());
          const verified = await verifyEdgeSignature(request, key, nonces);
          if (!verified.ok) return new Response(null, { status: 500 });
          return Response.json({ entries: [], nextBefore: undefined });
        },
      },
    });
    const result = await client.audit(
      { limit: 5 },
      { owner: "owner-vpc", services: ["billing"], requestId: "req-vpc-00001" },
    );
    expect(result.entries).toEqual([]);
    expect(seen).toHaveLength(1);
    const sent = seen[0];
    expect(sent?.url).toBe("https://origin.internal/v1/audit?limit=5");
    expect(sent?.headers.get("x-chitty-owner")).toBe("owner-vpc");
    expect(sent?.headers.get("x-request-id")).toBe("req-vpc-00001");
    expect(sent?.headers.get("cf-access-client-id")).toBeNull();
  });

  it("refuses an oversized origin body and a non-problem 4xx as origin_bad_response", async () => {
    const answers = [
      new Response("x".repeat(1024 * 1024 + 1), { status: 200 }),
      new Response("<html>nope</html>", { status: 404 }),
    ];
    for (const answer of answers) {
      const client = new OriginClient({
        baseUrl: "https://origin.internal",
        timeoutMs: 1000,
        signingSecret: TEST_SIGNING_KEY,
        fetcher: { fetch: async () => answer },
      });
      const problem = await problemOf(
        client.audit({ limit: 1 }, { owner: "owner-big", services: [], requestId: "req-0000001" }),
      );
      expect(problem.status).toBe(502);
      expect(problem.code).toBe("origin_bad_response");
    }
  });
});
