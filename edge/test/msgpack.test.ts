import { createExecutionContext } from "cloudflare:test";
import { decode, encode } from "@msgpack/msgpack";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { app } from "../src/index.ts";
import {
  jsonToMsgpack,
  MSGPACK_LIMITS,
  msgpackToJson,
  prefersMsgpack,
} from "../src/platform/msgpack-codec.ts";
import { party, upload } from "./documents-helpers.ts";
import { ADMIN, BASE, bearer, call, env, mintToken, uniqueOwner } from "./helpers.ts";
import { expectProblem, newOwner } from "./sessions-helpers.ts";

const MSGPACK = "application/msgpack";

function packed(method: string, body: unknown, headers: Record<string, string> = {}): RequestInit {
  return { method, headers: { "content-type": MSGPACK, accept: MSGPACK, ...headers }, body: encode(body) };
}

/** The answer decoded from MessagePack, after checking that it is MessagePack. */
async function unpacked<T>(response: Response, status: number): Promise<T> {
  const bytes = new Uint8Array(await response.arrayBuffer());
  expect(response.status, new TextDecoder().decode(bytes)).toBe(status);
  expect(response.headers.get("content-type")).toBe(MSGPACK);
  expect(response.headers.get("vary")).toContain("Accept");
  return decode(bytes) as T;
}

const PROVISION = {
  service: "billing",
  credentialPath: "services/chittyid/service_token",
  purpose: "deploy",
};

describe("MessagePack round trips on every route class", () => {
  it("credentials: a provision through the fake origin", async () => {
    const owner = uniqueOwner();
    const token = (await mintToken(owner, ["credentials:provision"])).token;
    const answer = await unpacked<{ value: string; sealed: boolean }>(
      await call("/api/v1/credentials/provision", packed("POST", PROVISION, bearer(token))),
      200,
    );
    expect(answer).toMatchObject({
      sealed: false,
      value: expect.stringMatching(new RegExp(`^provision:${owner}:billing:`)),
    });
  });

  it("sessions: create, list and put a context value", async () => {
    const a = await newOwner();
    const created = await unpacked<{ id: string; metadata: unknown }>(
      await call(
        "/api/v1/sessions",
        packed("POST", { id: "mp", metadata: { n: 1, f: 1.5, list: [true, null] } }, bearer(a.token)),
      ),
      201,
    );
    expect(created).toMatchObject({ id: "mp", metadata: { n: 1, f: 1.5, list: [true, null] } });
    const list = await unpacked<{ sessions: { id: string }[] }>(
      await call("/api/v1/sessions", { headers: bearer(a.token, { accept: MSGPACK }) }),
      200,
    );
    expect(list.sessions.map((session) => session.id)).toEqual(["mp"]);
  });

  it("documents: metadata patch, read and list", async () => {
    const p = await party();
    const doc = await upload(p, new TextEncoder().encode("evidence"), { name: "a.txt" });
    const patched = await unpacked<{ metadata: unknown; tags: string[] }>(
      await call(
        `/api/v1/documents/${doc.id}`,
        packed("PATCH", { metadata: { case: 7 }, tags: ["mp"] }, p.auth),
      ),
      200,
    );
    expect(patched).toMatchObject({ metadata: { case: 7 }, tags: ["mp"] });
    const read = await unpacked<{ id: string }>(
      await call(`/api/v1/documents/${doc.id}`, { headers: { ...p.auth, accept: MSGPACK } }),
      200,
    );
    expect(read.id).toBe(doc.id);
    const list = await unpacked<{ documents: { id: string }[] }>(
      await call("/api/v1/documents", { headers: { ...p.auth, accept: MSGPACK } }),
      200,
    );
    expect(list.documents.map((entry) => entry.id)).toContain(doc.id);
  });

  it("tokens admin: mint and list", async () => {
    const owner = uniqueOwner();
    const minted = await unpacked<{ token: string; owner: string }>(
      await call("/api/v1/admin/tokens", packed("POST", { owner, scopes: ["usage:read"] }, ADMIN)),
      201,
    );
    expect(minted.owner).toBe(owner);
    expect(minted.token).toMatch(/^cc_/);
    const list = await unpacked<{ tokens: { owner: string }[] }>(
      await call(`/api/v1/admin/tokens?owner=${owner}`, { headers: { ...ADMIN, accept: MSGPACK } }),
      200,
    );
    expect(list.tokens.map((entry) => entry.owner)).toEqual([owner]);
  });

  it("status and health", async () => {
    const status = await unpacked<{ checks: object }>(
      await call("/api/v1/status", { headers: { accept: MSGPACK } }),
      200,
    );
    expect(Object.keys(status.checks)).toContain("sessions");
    expect(await unpacked(await call("/health", { headers: { accept: MSGPACK } }), 200)).toEqual({
      status: "healthy",
    });
  });
});

describe("Accept negotiation", () => {
  it.each([
    [undefined, false],
    ["application/json", false],
    ["*/*", false],
    ["application/msgpack", true],
    ["application/x-msgpack", true],
    ["application/msgpack, application/json", false],
    ["application/json, application/msgpack", false],
    ["application/msgpack, application/json;q=0.9", true],
    ["application/json;q=0.5, application/msgpack;q=0.8", true],
    ["application/json, application/msgpack;q=0.5", false],
    ["application/msgpack;q=0", false],
    ["application/json;q=0, */*", true],
    ["application/*;q=0.3, application/msgpack", true],
    ["text/html", false],
    ["APPLICATION/MSGPACK ; Q=1", true],
  ])("Accept %s → MessagePack %s", (accept, expected) => {
    expect(prefersMsgpack(accept)).toBe(expected);
  });

  it("answers JSON when JSON is preferred, with Vary: Accept either way", async () => {
    const response = await call("/health", {
      headers: { accept: "application/json, application/msgpack;q=0.5" },
    });
    expect(response.headers.get("content-type")).toContain("application/json");
    expect(response.headers.get("vary")).toContain("Accept");
    expect(await response.json()).toEqual({ status: "healthy" });
  });

  it("keeps problems in problem+json whatever Accept says", async () => {
    const response = await call("/api/v1/sessions", { headers: { accept: MSGPACK } });
    await expectProblem(response, 401, "unauthorized");
  });

  it("leaves streamed document bytes alone: a JSON document downloads as stored", async () => {
    const p = await party();
    const doc = await upload(p, new TextEncoder().encode('{"stored":true}'), {
      name: "d.json",
      mime: "application/json",
    });
    const response = await call(`/api/v1/documents/${doc.id}/download`, {
      headers: { ...p.auth, accept: MSGPACK },
    });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('{"stored":true}');
  });
});

describe("MessagePack request bodies", () => {
  const sessions = async (body: Uint8Array | string, token: string, headers: Record<string, string> = {}) =>
    call("/api/v1/sessions", {
      method: "POST",
      headers: bearer(token, { "content-type": MSGPACK, ...headers }),
      body,
    });

  it("refuses bodies that are not one JSON-shaped MessagePack value with 400 invalid_msgpack", async () => {
    const a = await newOwner();
    const deep = (depth: number): unknown => (depth === 0 ? 1 : [deep(depth - 1)]);
    const cases: Uint8Array[] = [
      new Uint8Array([0xc1]), // never used in MessagePack
      new Uint8Array([0x81, 0x01, 0x02]), // {1: 2}: a non-string key
      encode(new Date(0)), // the timestamp extension
      new Uint8Array([0xd4, 0x05, 0x00]), // another extension type
      encode({ id: "x", metadata: { b: new Uint8Array([1, 2]) } }), // binary
      new Uint8Array([...encode({ id: "x" }), 0xc0]), // trailing bytes
      new Uint8Array([0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0]), // NaN
      encode({ id: "x", metadata: deep(MSGPACK_LIMITS.maxDepth + 1) }),
      new Uint8Array([0x81, 0xa9, ...new TextEncoder().encode("__proto__"), 0x80]), // {"__proto__": {}}
      new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff]), // an array claiming 4 billion items
      new Uint8Array(0),
    ];
    for (const body of cases) await expectProblem(await sessions(body, a.token), 400, "invalid_msgpack");
    expect((await a.get("/api/v1/sessions")).status).toBe(200);
  });

  it("applies the route's own body limit to the JSON it becomes (413), and its own cap to the bytes", async () => {
    const a = await newOwner();
    const big = encode({ id: "big", metadata: { text: "x".repeat(70 * 1024) } });
    expect(big.byteLength).toBeLessThan(80 * 1024);
    await expectProblem(await sessions(big, a.token), 413, "payload_too_large");
    await expectProblem(await sessions(new Uint8Array(13 * 1024 * 1024), a.token), 413, "payload_too_large");
  });

  it("decodes nothing before authentication", async () => {
    await expectProblem(await sessions(new Uint8Array([0xc1]), "cc_not_a_token"), 401, "unauthorized");
  });

  it("the msgpack flag off: bodies refused with 415 naming it, answers in JSON", async () => {
    const a = await newOwner();
    const bindings = { ...env, FEATURE_FLAGS: JSON.stringify({ msgpack: { enabled: false } }) };
    const send = (init: RequestInit) =>
      app.fetch(new Request(`${BASE}/api/v1/sessions`, init), bindings, createExecutionContext());
    const refused = await send(packed("POST", { id: "off" }, bearer(a.token)));
    expect(await expectProblem(refused, 415, "unsupported_media_type")).toMatchObject({ flag: "msgpack" });
    const listed = await send({ headers: bearer(a.token, { accept: MSGPACK }) });
    expect(listed.headers.get("content-type")).toContain("application/json");
    expect(listed.headers.get("vary")).toContain("Accept");
  });
});

describe("property: any JSON value survives both conversions", () => {
  // The decoder refuses a "__proto__" key (prototype pollution), so such values are left out here
  // and refused in the test above.
  const jsonValue = fc
    .jsonValue({ maxDepth: 6 })
    .filter((value) => !JSON.stringify(value).includes('"__proto__"'));
  const viaJson = (value: unknown) => JSON.parse(JSON.stringify(value)) as unknown;

  it("msgpack → JSON (requests) and JSON → msgpack (responses)", () => {
    fc.assert(
      fc.property(jsonValue, (value) => {
        const request = JSON.parse(new TextDecoder().decode(msgpackToJson(encode(value))));
        expect(request).toEqual(viaJson(value));
        expect(decode(jsonToMsgpack(JSON.stringify(value)))).toEqual(viaJson(value));
      }),
      { numRuns: 500 },
    );
  }, 30_000);

  it("through a route: a context value put as MessagePack reads back the same, as MessagePack and as JSON", async () => {
    const a = await newOwner();
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc
          .jsonValue({ maxDepth: 4 })
          .filter((v) => !JSON.stringify(v).includes('"__proto__"') && JSON.stringify(v).length < 4000),
        async (value) => {
          const key = `k${n++}`;
          const put = await call(`/api/v1/context/${key}`, packed("PUT", { value }, bearer(a.token)));
          expect((await unpacked<{ value: unknown }>(put, 201)).value).toEqual(viaJson(value));
          const json = (await (
            await call(`/api/v1/context/${key}`, { headers: bearer(a.token) })
          ).json()) as { value: unknown };
          expect(json.value).toEqual(viaJson(value));
        },
      ),
      { numRuns: 40 },
    );
  }, 30_000);
});
