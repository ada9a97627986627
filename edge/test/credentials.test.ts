import { AuditListResponseSchema, CredentialResponseSchema } from "@chittyconnect/contract";
import { describe, expect, it } from "vitest";
import { Scenario } from "./fake-origin.ts";
import { bearer, call, env, jsonInit, mintToken, uniqueOwner } from "./helpers.ts";

const REQUEST = { service: "billing", credentialPath: "services/chittyid/service_token", purpose: "deploy" };

async function provisioner(owner = uniqueOwner()) {
  return (await mintToken(owner, ["credentials:provision", "credentials:rotate"])).token;
}

describe("credential routes through the signed origin", () => {
  it("provisions: the fake origin verified the signature, owner and request id", async () => {
    const owner = uniqueOwner();
    const token = await provisioner(owner);
    const response = await call(
      "/api/v1/credentials/provision",
      jsonInit("POST", REQUEST, bearer(token, { "x-request-id": "req-provision-1" })),
    );
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const body = CredentialResponseSchema.parse(await response.json());
    expect(body.credentialPath).toBe(REQUEST.credentialPath);
    expect(body.sealed ? undefined : body.value).toBe(`provision:${owner}:billing:req-provision-1`);
  });

  it("rotates with the rotate scope", async () => {
    const owner = uniqueOwner();
    const response = await call(
      "/api/v1/credentials/rotate",
      jsonInit("POST", REQUEST, bearer(await provisioner(owner))),
    );
    expect(response.status).toBe(200);
    const body = CredentialResponseSchema.parse(await response.json());
    expect(body.sealed ? undefined : body.value).toMatch(new RegExp(`^rotate:${owner}:billing:`));
  });

  it("reads the audit trail with limit and before forwarded and signed", async () => {
    const owner = uniqueOwner();
    const token = (await mintToken(owner, ["usage:read"])).token;
    const response = await call("/api/v1/credentials/audit?limit=2&before=10", { headers: bearer(token) });
    expect(response.status).toBe(200);
    const body = AuditListResponseSchema.parse(await response.json());
    expect(body.entries.map((entry) => entry.seq)).toEqual([9, 8]);
    expect(body.entries.every((entry) => entry.owner === owner)).toBe(true);
    expect(body.nextBefore).toBe(8);
  });

  it("rejects a bad audit query with a 400 problem", async () => {
    const token = (await mintToken(uniqueOwner(), ["usage:read"])).token;
    const response = await call("/api/v1/credentials/audit?limit=501", { headers: bearer(token) });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { errors: { path: string }[] }).errors[0]?.path).toBe("limit");
  });

  it("validates the body shape with a 400 problem listing errors", async () => {
    const response = await call(
      "/api/v1/credentials/provision",
      jsonInit("POST", { ...REQUEST, credentialPath: "only/two" }, bearer(await provisioner())),
    );
    expect(response.status).toBe(400);
    const problem = (await response.json()) as { code: string; errors: { path: string }[] };
    expect(problem.code).toBe("validation_failed");
    expect(problem.errors.map((error) => error.path)).toContain("credentialPath");
  });

  it("answers malformed JSON with 400, a wrong content type with 415, a big body with 413", async () => {
    const token = await provisioner();
    const malformed = await call("/api/v1/credentials/provision", {
      method: "POST",
      headers: bearer(token, { "content-type": "application/json" }),
      body: "{not json",
    });
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { code: string }).code).toBe("malformed_json");

    const wrongType = await call("/api/v1/credentials/provision", {
      method: "POST",
      headers: bearer(token, { "content-type": "text/plain" }),
      body: JSON.stringify(REQUEST),
    });
    expect(wrongType.status).toBe(415);

    const big = await call(
      "/api/v1/credentials/provision",
      jsonInit("POST", { ...REQUEST, purpose: "x".repeat(70_000) }, bearer(token)),
    );
    expect(big.status).toBe(413);
    expect(((await big.json()) as { code: string }).code).toBe("payload_too_large");
  });

  it("refuses an oversized streamed body without a content length", async () => {
    const chunk = new TextEncoder().encode(" ".repeat(16 * 1024));
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 5; i++) controller.enqueue(chunk);
        controller.close();
      },
    });
    const response = await call("/api/v1/credentials/provision", {
      method: "POST",
      headers: bearer(await provisioner(), { "content-type": "application/json" }),
      body: stream,
    });
    expect(response.status).toBe(413);
  });
});

describe("origin failures", () => {
  async function provisionAs(owner: string) {
    const token = await provisioner(owner);
    return call("/api/v1/credentials/provision", jsonInit("POST", REQUEST, bearer(token)));
  }

  it("maps a slow origin to 504 origin_timeout", async () => {
    const response = await provisionAs(Scenario.slow);
    expect(response.status).toBe(504);
    expect(((await response.json()) as { code: string }).code).toBe("origin_timeout");
  });

  it("passes the origin's 4xx problem through with the edge's request id", async () => {
    const response = await provisionAs(Scenario.notFound);
    expect(response.status).toBe(404);
    const problem = (await response.json()) as { code: string; requestId: string };
    expect(problem.code).toBe("credential_not_found");
    expect(problem.requestId).toBe(response.headers.get("x-request-id"));
  });

  it("passes 503 with Retry-After through", async () => {
    const response = await provisionAs(Scenario.busy);
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("7");
    expect(((await response.json()) as { code: string }).code).toBe("connect_unreachable");
  });

  it("turns an origin 500 into 502 keeping its code", async () => {
    const response = await provisionAs(Scenario.broken);
    expect(response.status).toBe(502);
    expect(((await response.json()) as { code: string }).code).toBe("connect_error");
  });

  it("refuses an origin body that breaks the contract with 502 origin_bad_response", async () => {
    const response = await provisionAs(Scenario.garbage);
    expect(response.status).toBe(502);
    expect(((await response.json()) as { code: string }).code).toBe("origin_bad_response");
  });
});

describe("services bound to tokens", () => {
  const problemCode = async (response: Response) => ((await response.json()) as { code: string }).code;

  it("refuses a service the token is not bound to, for provision and rotate", async () => {
    const token = await provisioner();
    for (const route of ["provision", "rotate"]) {
      const response = await call(
        `/api/v1/credentials/${route}`,
        jsonInit("POST", { ...REQUEST, service: "chittyid" }, bearer(token)),
      );
      expect(response.status).toBe(403);
      expect(await problemCode(response)).toBe("service_not_allowed");
    }
  });

  it("signs the token's services, not the caller's, into the hop", async () => {
    const owner = uniqueOwner();
    const { token } = await mintToken(owner, ["credentials:provision"], {
      services: ["chittyid", "billing"],
    });
    const response = await call(
      "/api/v1/credentials/provision",
      jsonInit("POST", REQUEST, bearer(token, { "x-request-id": "req-services-1" })),
    );
    expect(response.status).toBe(200);
    const body = CredentialResponseSchema.parse(await response.json());
    expect(body.sealed ? undefined : body.value).toBe(`provision:${owner}:billing,chittyid:req-services-1`);
  });

  it('serves any service to a token minted with services ["*"]', async () => {
    const { token } = await mintToken(uniqueOwner(), ["credentials:provision"], { services: ["*"] });
    for (const service of ["billing", "chittyid", "anything-else"]) {
      const response = await call(
        "/api/v1/credentials/provision",
        jsonInit("POST", { ...REQUEST, service }, bearer(token)),
      );
      expect(response.status).toBe(200);
    }
  });

  it("refuses a token minted before service binding on credential routes, and keeps its audit reads", async () => {
    const owner = uniqueOwner();
    const { id, token } = await mintToken(owner, ["credentials:provision", "usage:read"]);
    // What migration 0002 leaves on every token that existed before it.
    await env.DB.prepare("UPDATE api_tokens SET services = NULL WHERE id = ?").bind(id).run();
    const response = await call("/api/v1/credentials/provision", jsonInit("POST", REQUEST, bearer(token)));
    expect(response.status).toBe(403);
    expect(await problemCode(response)).toBe("token_services_missing");
    const audit = await call("/api/v1/credentials/audit", { headers: bearer(token) });
    expect(audit.status).toBe(200);
  });
});
