import { Headers, ProblemError, ProblemSchema, type SigningKey } from "@chittyconnect/contract";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { signedFetch, signedInit, signingKey } from "../helpers/signed-fetch.ts";
import { OWNER, PROVISION_BODY, SIGNING_SECRET, startTestOrigin, type TestOrigin } from "./harness.ts";

let origin: TestOrigin;
let key: SigningKey;

beforeAll(async () => {
  origin = await startTestOrigin({ MAX_BODY_BYTES: "2048" });
  key = await signingKey(SIGNING_SECRET);
});
afterAll(() => origin.close());
beforeEach(() => {
  origin.credentials.failure = undefined;
  origin.credentials.ready = true;
});

const url = (path: string) => `${origin.url}${path}`;

async function problemOf(response: Response, status: number, code: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  const problem = ProblemSchema.parse(await response.json());
  expect(problem.code).toBe(code);
  expect(problem.requestId).toBe(response.headers.get(Headers.requestId));
  return problem;
}

describe("credential routes", () => {
  it("provisions, rotates to a new value and lists the caller's audit entries", async () => {
    const first = await signedFetch(url("/v1/credentials/provision"), {
      key,
      owner: OWNER,
      body: PROVISION_BODY,
    });
    const issued = (await first.json()) as { value: string; version: number };
    const rotated = await signedFetch(url("/v1/credentials/rotate"), {
      key,
      owner: OWNER,
      body: PROVISION_BODY,
    });
    expect(rotated.status).toBe(200);
    expect(rotated.headers.get("cache-control")).toBe("no-store");
    const renewed = (await rotated.json()) as { value: string; version: number };
    expect(renewed.value).not.toBe(issued.value);
    expect(renewed.version).toBe(issued.version + 1);

    const audit = await signedFetch(url("/v1/audit?limit=1"), { key, owner: OWNER });
    expect(audit.status).toBe(200);
    expect(audit.headers.get("cache-control")).toBe("no-store");
    const list = (await audit.json()) as { entries: { action: string; owner: string }[] };
    expect(list.entries).toHaveLength(1);
    expect(list.entries[0]).toMatchObject({ action: "rotate", owner: OWNER });

    const stranger = await signedFetch(url("/v1/audit"), { key, owner: "01-C-TEST-0002-P-2501-A-X" });
    expect(((await stranger.json()) as { entries: unknown[] }).entries).toEqual([]);
  });

  it("answers a bad audit query with a 400 naming the field", async () => {
    const response = await signedFetch(url("/v1/audit?limit=0"), { key, owner: OWNER });
    const problem = await problemOf(response, 400, "validation_failed");
    expect(problem.errors?.[0]?.path).toBe("limit");
  });

  it("passes a service's problem through, headers included", async () => {
    origin.credentials.failure = new ProblemError({
      status: 503,
      code: "connect_unreachable",
      title: "1Password Connect unreachable",
      headers: { "retry-after": "5" },
    });
    const response = await signedFetch(url("/v1/credentials/provision"), {
      key,
      owner: OWNER,
      body: PROVISION_BODY,
    });
    await problemOf(response, 503, "connect_unreachable");
    expect(response.headers.get("retry-after")).toBe("5");
  });

  it("answers an unknown credential path with the service's 404", async () => {
    const body = { ...PROVISION_BODY, credentialPath: "services/nothing/here" };
    const response = await signedFetch(url("/v1/credentials/provision"), { key, owner: OWNER, body });
    await problemOf(response, 404, "credential_not_found");
  });

  it("hides internal errors behind a generic 500 and logs them with the request id", async () => {
    origin.credentials.failure = new Error("connect exploded: token=op-secret-token at /srv/origin");
    const response = await signedFetch(url("/v1/credentials/provision"), {
      key,
      owner: OWNER,
      body: PROVISION_BODY,
      requestId: "req-internal-1",
    });
    const text = await response.clone().text();
    expect(text).not.toContain("exploded");
    expect(text).not.toContain("op-secret-token");
    await problemOf(response, 500, "internal_error");
    const logged = origin
      .logs()
      .find((line) => line.requestId === "req-internal-1" && line.msg === "unhandled error");
    expect(logged?.level).toBe(50);
  });
});

describe("request checks", () => {
  it("refuses a body over the limit with 413 before reading it", async () => {
    const response = await fetch(url("/v1/credentials/provision"), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "x".repeat(2049),
    });
    await problemOf(response, 413, "payload_too_large");
  });

  it("refuses a chunked body that grows past the limit", async () => {
    const chunk = new TextEncoder().encode("y".repeat(1000));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 5) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const response = await fetch(url("/v1/credentials/provision"), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: stream,
      duplex: "half",
    } as RequestInit);
    await problemOf(response, 413, "payload_too_large");
  });

  it.each([
    ["text/plain", "text/plain"],
    ["missing", undefined],
  ])("refuses a %s content type with 415", async (_label, contentType) => {
    const init = await signedInit(url("/v1/credentials/provision"), {
      key,
      owner: OWNER,
      body: PROVISION_BODY,
    });
    if (contentType) init.headers["content-type"] = contentType;
    else delete init.headers["content-type"];
    const response = await fetch(url("/v1/credentials/provision"), {
      ...init,
      body: new TextEncoder().encode(init.body),
    });
    await problemOf(response, 415, "unsupported_media_type");
  });

  it("accepts application/json with a charset parameter", async () => {
    const response = await signedFetch(url("/v1/credentials/provision"), {
      key,
      owner: OWNER,
      body: PROVISION_BODY,
      headers: { "content-type": "Application/JSON; charset=utf-8" },
    });
    expect(response.status).toBe(200);
  });

  it("answers malformed JSON with a 400 problem", async () => {
    const response = await signedFetch(url("/v1/credentials/provision"), {
      key,
      owner: OWNER,
      body: "{not json",
    });
    await problemOf(response, 400, "malformed_json");
  });

  it("answers a body of the wrong shape with a 400 listing the fields", async () => {
    const body = { service: "Bad Service", credentialPath: "no-slashes", purpose: "", extra: true };
    const response = await signedFetch(url("/v1/credentials/provision"), { key, owner: OWNER, body });
    const problem = await problemOf(response, 400, "validation_failed");
    const paths = problem.errors?.map((error) => error.path) ?? [];
    expect(paths).toEqual(expect.arrayContaining(["service", "credentialPath", "purpose"]));
  });

  it("answers an unknown route with a 404 problem", async () => {
    await problemOf(await fetch(url("/nowhere")), 404, "not_found");
    const signed = await signedFetch(url("/v1/nowhere"), { key, owner: OWNER });
    await problemOf(signed, 404, "not_found");
  });

  it("echoes a sane request id and replaces an unsafe one", async () => {
    const kept = await fetch(url("/healthz"), { headers: { [Headers.requestId]: "edge.req_42-abc" } });
    expect(kept.headers.get(Headers.requestId)).toBe("edge.req_42-abc");
    for (const unsafe of ["a b", "x".repeat(129), "<script>"]) {
      const replaced = await fetch(url("/healthz"), { headers: { [Headers.requestId]: unsafe } });
      const id = replaced.headers.get(Headers.requestId);
      expect(id).not.toBe(unsafe);
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
    }
  });
});

describe("operational endpoints", () => {
  it("reports liveness without a signature", async () => {
    const response = await fetch(url("/healthz"));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok" });
  });

  it("reports readiness as 200 or 503 with the same body shape", async () => {
    const ready = await fetch(url("/readyz"));
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: "ready", connect: { reachable: true, synced: true } });
    origin.credentials.ready = false;
    const unready = await fetch(url("/readyz"));
    expect(unready.status).toBe(503);
    expect(await unready.json()).toMatchObject({ status: "unready", connect: { reachable: false } });
  });

  it("exposes request metrics labelled by route template, not raw path", async () => {
    await fetch(url("/no/such/path/12345"));
    await signedFetch(url("/v1/audit?limit=3"), { key, owner: OWNER });
    const response = await fetch(url("/metrics"));
    expect(response.headers.get("content-type")).toContain("text/plain");
    const text = await response.text();
    expect(text).toMatch(/origin_http_requests_total\{method="GET",route="\/v1\/audit",status="200"\} \d+/);
    expect(text).toMatch(/origin_http_requests_total\{method="GET",route="unmatched",status="404"\} \d+/);
    expect(text).toContain(
      'origin_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/healthz"',
    );
    expect(text).not.toContain("12345");
  });

  it("labels made-up methods as one value, so callers cannot mint time series", async () => {
    // Methods Node's HTTP parser knows (it refuses made-up ones itself) but no route answers.
    for (const method of ["PROPFIND", "MKCOL", "LOCK"]) await fetch(url("/healthz"), { method });
    const text = await (await fetch(url("/metrics"))).text();
    expect(text).toMatch(/origin_http_requests_total\{method="other",route="unmatched",status="404"\} 3/);
    expect(text).not.toMatch(/PROPFIND|MKCOL|LOCK/);
  });

  it("writes one access line per request without headers or bodies", async () => {
    await signedFetch(url("/v1/credentials/provision"), {
      key,
      owner: OWNER,
      body: PROVISION_BODY,
      requestId: "req-access-line",
    });
    const lines = origin.logs().filter((line) => line.requestId === "req-access-line");
    const access = lines.filter((line) => line.msg === "request");
    expect(access).toHaveLength(1);
    expect(access[0]).toMatchObject({
      method: "POST",
      route: "/v1/credentials/provision",
      status: 200,
      owner: OWNER,
    });
    expect(typeof access[0]?.ms).toBe("number");
    const everything = JSON.stringify(lines);
    expect(everything).not.toContain(origin.credentials.value);
    expect(everything).not.toContain("integration test");
  });
});
