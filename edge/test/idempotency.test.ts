import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { CredentialResponseSchema } from "@chittyconnect/contract";
import { describe, expect, it } from "vitest";
import { app } from "../src/index.ts";
import { bearer, call, env, jsonInit, mintToken, uniqueOwner } from "./helpers.ts";

const REQUEST = { service: "chittyid", credentialPath: "services/chittyid/service_token", purpose: "retry" };

async function rotator(owner = uniqueOwner()) {
  return (
    await mintToken(owner, ["credentials:provision", "credentials:rotate"], { services: [REQUEST.service] })
  ).token;
}

describe("Idempotency-Key at the edge", () => {
  it("refuses malformed keys with a 400 problem that does not echo them", async () => {
    const token = await rotator();
    const bad = [
      "short",
      "x".repeat(129),
      "has space in it",
      "key/with/slash",
      "abcdefgh, abcdefgh",
      '"abcdefgh',
    ];
    for (const key of bad) {
      for (const action of ["provision", "rotate"]) {
        const response = await call(
          `/api/v1/credentials/${action}`,
          jsonInit("POST", REQUEST, bearer(token, { "idempotency-key": key })),
        );
        expect(response.status, key).toBe(400);
        expect(response.headers.get("content-type")).toBe("application/problem+json");
        const problem = (await response.json()) as { code: string; detail: string };
        expect(problem.code).toBe("invalid_idempotency_key");
        expect(problem.detail).not.toContain(key);
      }
    }
  });

  it("forwards a valid key inside the signed body (bare or in Structured Field quotes)", async () => {
    const owner = uniqueOwner();
    const token = await rotator(owner);
    for (const [header, key] of [
      ["0f8e4b1c-7a9d-4c1e-9f3b-2d6a5e8c7b10", "0f8e4b1c-7a9d-4c1e-9f3b-2d6a5e8c7b10"],
      ['"deploy-2026-11-29:3"', "deploy-2026-11-29:3"],
    ] as const) {
      const response = await call(
        "/api/v1/credentials/rotate",
        jsonInit("POST", REQUEST, bearer(token, { "idempotency-key": header, "x-request-id": "req-idem" })),
      );
      expect(response.status).toBe(200);
      const body = CredentialResponseSchema.parse(await response.json());
      // The fake origin verified the signature over the body and echoes the services and the key it
      // found there.
      expect(body.sealed ? undefined : body.value).toBe(`rotate:${owner}:chittyid:req-idem:key=${key}`);
    }
    const plain = await call(
      "/api/v1/credentials/provision",
      jsonInit("POST", REQUEST, bearer(token, { "x-request-id": "req-no-key" })),
    );
    const plainBody = CredentialResponseSchema.parse(await plain.json());
    expect(plainBody.sealed ? undefined : plainBody.value).toBe(`provision:${owner}:chittyid:req-no-key`);
  });
});

describe("Idempotency-Key in the OpenAPI document", () => {
  it("is a documented optional header of provision and rotate, with 409 and 422 answers", async () => {
    const doc = (await (await call("/api/v1/openapi.json")).json()) as {
      paths: Record<string, { post?: { parameters?: { name: string; in: string }[]; responses: object } }>;
    };
    for (const path of ["/api/v1/credentials/provision", "/api/v1/credentials/rotate"]) {
      const post = doc.paths[path]?.post;
      expect(post?.parameters).toContainEqual(
        expect.objectContaining({ name: "Idempotency-Key", in: "header" }),
      );
      expect(Object.keys(post?.responses ?? {})).toEqual(expect.arrayContaining(["409", "422"]));
    }
  });
});

/** The Worker in front of the real origin (test/real-origin.ts) instead of the fake one. */
async function viaRealOrigin(path: string, init: RequestInit): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await app.fetch(
    new Request(`https://edge.test${path}`, init),
    { ...env, ORIGIN_URL: env.REAL_ORIGIN_URL },
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return response;
}

/** The item as Connect holds it; its version counts every write, hence every rotation. */
async function connectItem(): Promise<{ version: number; value: string | undefined }> {
  const response = await fetch(env.REAL_CONNECT_ITEM_URL, {
    headers: { authorization: `Bearer ${env.REAL_CONNECT_TOKEN}` },
  });
  expect(response.status).toBe(200);
  const item = (await response.json()) as { version: number; fields: { label: string; value?: string }[] };
  return {
    version: item.version,
    value: item.fields.find((field) => field.label === "service_token")?.value,
  };
}

describe("a rotate the edge gave up on (504) is not rotated again by its retry", () => {
  it("answers the retry with the first rotation's version, read again from Connect", async () => {
    const token = await rotator();
    const rotate = () =>
      viaRealOrigin(
        "/api/v1/credentials/rotate",
        jsonInit("POST", REQUEST, bearer(token, { "idempotency-key": "edge-504-retry-0001" })),
      );
    const before = await connectItem();

    const first = await rotate();
    expect(first.status).toBe(504);
    expect(((await first.json()) as { code: string }).code).toBe("origin_timeout");

    // Retry as a client would: 409 while the first rotation still runs at the origin (504 if a
    // hop is slow under load), then the replay.
    const statuses: number[] = [];
    let retried: Response | undefined;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const response = await rotate();
      statuses.push(response.status);
      if (response.status === 200) {
        retried = response;
        break;
      }
      expect([409, 504]).toContain(response.status);
      await response.body?.cancel();
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(retried, `statuses: ${statuses.join(",")}`).toBeDefined();
    const body = CredentialResponseSchema.parse(await retried?.json());
    if (body.sealed) throw new Error("expected a plain value");

    const after = await connectItem();
    expect(after.version).toBe(before.version + 1);
    expect(body).toMatchObject({ replayed: true, version: after.version, value: after.value });
    expect(after.value).not.toBe(before.value);

    // Once more for good measure: still one rotation.
    const again = CredentialResponseSchema.parse(await (await rotate()).json());
    expect(again).toMatchObject({ replayed: true, version: after.version });
    expect((await connectItem()).version).toBe(before.version + 1);
  });

  it("passes the origin's 422 through when the key comes back with another body", async () => {
    const token = await rotator();
    const rotate = (purpose: string) =>
      viaRealOrigin(
        "/api/v1/credentials/provision",
        jsonInit("POST", { ...REQUEST, purpose }, bearer(token, { "idempotency-key": "edge-422-000001" })),
      );
    const first = await rotate("first");
    // The first provision only reads, so it answers within the edge's timeout.
    expect(first.status).toBe(200);
    const second = await rotate("second");
    expect(second.status).toBe(422);
    expect(((await second.json()) as { code: string }).code).toBe("idempotency_key_reused");
  });
});
