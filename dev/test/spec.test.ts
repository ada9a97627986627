import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Ajv } from "ajv";
import formats from "ajv-formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { type RunningConnectServer, startConnectServer } from "../src/connect/server.ts";

/**
 * Every endpoint the dev server implements, called over HTTP, with each answer checked against
 * the response schema 1Password's OpenAPI document declares for that status.
 */
const repoRoot = resolve(import.meta.dirname, "../..");
const specPath =
  process.env.ONEPASSWORD_CONNECT_OPENAPI ??
  resolve(repoRoot, "../shared/reference/1password-connect-openapi.yaml");
const specFound = existsSync(specPath);
if (!specFound) {
  console.warn(
    `spec.test.ts skipped: the 1Password Connect OpenAPI spec was not found at ${specPath}. ` +
      "Set ONEPASSWORD_CONNECT_OPENAPI to the path of 1password-connect-openapi.yaml to run it.",
  );
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
interface OpenApiResponse {
  content?: Record<string, { schema: Json }>;
}
interface OpenApi {
  components: { schemas: Record<string, Json> };
  paths: Record<string, Record<string, { responses: Record<string, OpenApiResponse> }>>;
}

/**
 * OpenAPI 3.0 schemas are almost JSON Schema: `nullable` becomes a null type, and refs point into
 * the components document registered under the id "connect".
 */
function toJsonSchema(node: Json): Json {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (node === null || typeof node !== "object") return node;
  const out: { [key: string]: Json } = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === "nullable") continue;
    out[key] =
      key === "$ref" && typeof value === "string"
        ? value.replace(/^#\/components\//, "connect#/components/")
        : toJsonSchema(value);
  }
  if (node.nullable === true && typeof node.type === "string") out.type = [node.type, "null"];
  return out;
}

const TOKEN = "dev-connect-spec-test-token";
const SERVICES = "a3szkwc3qjcez3b4djjrhp4n6q";
const CHITTYID = "ok7dfqy6arvsuwoqbuvsc2vqv5";
const UNKNOWN = "zzzzzzzzzzzzzzzzzzzzzzzzzz";
const ERROR_RESPONSE: Json = { $ref: "#/components/schemas/ErrorResponse" };

describe.skipIf(!specFound)("the dev Connect server against 1Password's OpenAPI document", () => {
  let server: RunningConnectServer;
  let spec: OpenApi;
  const ajv = new Ajv({ strict: false, allErrors: true });
  // CJS interop: Node hands us module.exports, whose `default` is the plugin.
  formats.default(ajv);

  beforeAll(async () => {
    // The document is 1Password's published spec; its shape is trusted, not re-validated.
    spec = parse(readFileSync(specPath, "utf8")) as OpenApi;
    ajv.addSchema({ $id: "connect", components: { schemas: toJsonSchema(spec.components.schemas) } });
    server = await startConnectServer({ port: 0, token: TOKEN });
  });
  afterAll(() => server?.close());

  /**
   * Calls the server and validates the answer. `template` is the spec's path (API paths are
   * relative to its `/v1` server). Statuses the spec does not declare for an operation — the
   * 400 for a bad filter or id on GETs — must still be an ErrorResponse.
   */
  async function call(
    method: string,
    template: string,
    path: string,
    options: { token?: string | null; body?: unknown } = {},
  ): Promise<{ status: number; body: Json }> {
    const token = options.token === undefined ? TOKEN : options.token;
    const response = await fetch(server.url + path, {
      method,
      headers: {
        ...(token === null ? {} : { authorization: `Bearer ${token}` }),
        ...(options.body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const text = await response.text();
    const operation = spec.paths[template]?.[method.toLowerCase()];
    expect(operation, `${method} ${template} is in the spec`).toBeDefined();
    const declared = operation?.responses[String(response.status)];
    if (response.status === 204) {
      expect(declared, `${method} ${template} declares 204`).toBeDefined();
      expect(text).toBe("");
      return { status: 204, body: null };
    }
    const body = JSON.parse(text) as Json;
    const schema =
      declared?.content?.["application/json"]?.schema ?? (response.status >= 400 ? ERROR_RESPONSE : null);
    expect(schema, `${method} ${template} → ${response.status} has a JSON schema`).not.toBeNull();
    const validate = ajv.compile(toJsonSchema(schema) as object);
    expect(validate(body), `${method} ${path} → ${response.status}: ${ajv.errorsText(validate.errors)}`).toBe(
      true,
    );
    if (response.status >= 400)
      expect(body).toEqual({ status: response.status, message: expect.any(String) });
    return { status: response.status, body };
  }

  it("GET /heartbeat answers text/plain '.'", async () => {
    const response = await fetch(`${server.url}/heartbeat`);
    expect(response.status).toBe(200);
    expect(spec.paths["/heartbeat"]?.get?.responses["200"]?.content?.["text/plain"]).toBeDefined();
    expect(response.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(await response.text()).toBe(".");
  });

  it("GET /health", async () => {
    const { status, body } = await call("GET", "/health", "/health", { token: null });
    expect(status).toBe(200);
    expect(body).toMatchObject({ name: "1Password Connect API", dependencies: [{ service: "sync" }] });
  });

  it("GET /vaults, with and without a filter", async () => {
    const all = await call("GET", "/vaults", "/v1/vaults");
    expect(all.status).toBe(200);
    expect((all.body as { name: string }[]).map((v) => v.name)).toEqual([
      "infrastructure",
      "services",
      "integrations",
      "emergency",
    ]);
    const one = await call(
      "GET",
      "/vaults",
      `/v1/vaults?filter=${encodeURIComponent('title eq "services"')}`,
    );
    expect(one.body).toEqual([expect.objectContaining({ id: SERVICES, name: "services", items: 9 })]);
  });

  it("401 without a token and with a wrong one", async () => {
    expect(await call("GET", "/vaults", "/v1/vaults", { token: null })).toEqual({
      status: 401,
      body: { status: 401, message: "Invalid bearer token" },
    });
    expect(await call("GET", "/vaults", "/v1/vaults", { token: "wrong" })).toEqual({
      status: 401,
      body: { status: 401, message: "Invalid token signature" },
    });
    expect(
      (
        await call(
          "GET",
          "/vaults/{vaultUuid}/items/{itemUuid}",
          `/v1/vaults/${SERVICES}/items/${CHITTYID}`,
          { token: "wrong" },
        )
      ).status,
    ).toBe(401);
  });

  it("400 for a malformed filter (undeclared in the spec, but an ErrorResponse)", async () => {
    const bad = encodeURIComponent('title eq "chittyid "legacy""');
    expect((await call("GET", "/vaults", `/v1/vaults?filter=${bad}`)).status).toBe(400);
    expect(
      (await call("GET", "/vaults/{vaultUuid}/items", `/v1/vaults/${SERVICES}/items?filter=${bad}`)).status,
    ).toBe(400);
  });

  it("GET /vaults/{vaultUuid}: 200, 404, and 400 for an id that is not one", async () => {
    expect(await call("GET", "/vaults/{vaultUuid}", `/v1/vaults/${SERVICES}`)).toMatchObject({
      status: 200,
      body: { id: SERVICES, name: "services" },
    });
    expect(await call("GET", "/vaults/{vaultUuid}", `/v1/vaults/${UNKNOWN}`)).toEqual({
      status: 404,
      body: { status: 404, message: `vault ${UNKNOWN} not found` },
    });
    expect((await call("GET", "/vaults/{vaultUuid}", "/v1/vaults/services")).status).toBe(400);
  });

  it("GET /vaults/{vaultUuid}/items: summaries without fields, filtered by title or tag", async () => {
    const all = await call("GET", "/vaults/{vaultUuid}/items", `/v1/vaults/${SERVICES}/items`);
    expect(all.status).toBe(200);
    for (const item of all.body as Record<string, Json>[]) {
      expect(item).not.toHaveProperty("fields");
      expect(item).not.toHaveProperty("sections");
    }
    const byTag = await call(
      "GET",
      "/vaults/{vaultUuid}/items",
      `/v1/vaults/${SERVICES}/items?filter=${encodeURIComponent('tag eq "primary"')}`,
    );
    expect(byTag.body).toEqual([expect.objectContaining({ title: "chittychat", tags: ["primary"] })]);
    expect((await call("GET", "/vaults/{vaultUuid}/items", `/v1/vaults/${UNKNOWN}/items`)).status).toBe(404);
  });

  it("GET /vaults/{vaultUuid}/items/{itemUuid}: the full item, then 404s", async () => {
    const template = "/vaults/{vaultUuid}/items/{itemUuid}";
    const { status, body } = await call("GET", template, `/v1/vaults/${SERVICES}/items/${CHITTYID}`);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      id: CHITTYID,
      title: "chittyid",
      vault: { id: SERVICES },
      fields: expect.arrayContaining([
        expect.objectContaining({ label: "service_token", type: "CONCEALED" }),
      ]),
    });
    expect(await call("GET", template, `/v1/vaults/${SERVICES}/items/${UNKNOWN}`)).toEqual({
      status: 404,
      body: { status: 404, message: `item ${UNKNOWN} not found` },
    });
    expect((await call("GET", template, `/v1/vaults/${UNKNOWN}/items/${CHITTYID}`)).body).toEqual({
      status: 404,
      message: `vault ${UNKNOWN} not found`,
    });
  });

  it("POST, PUT and DELETE an item, and their 400s and 404s", async () => {
    const collection = "/vaults/{vaultUuid}/items";
    const single = "/vaults/{vaultUuid}/items/{itemUuid}";
    const draft = {
      vault: { id: SERVICES },
      title: "spec-test",
      category: "API_CREDENTIAL",
      fields: [{ label: "api_key", type: "CONCEALED", generate: true, recipe: { length: 30 } }],
    };
    const created = await call("POST", collection, `/v1/vaults/${SERVICES}/items`, { body: draft });
    expect(created).toMatchObject({ status: 200, body: { title: "spec-test", version: 1 } });
    const id = (created.body as { id: string }).id;

    const replaced = await call("PUT", single, `/v1/vaults/${SERVICES}/items/${id}`, {
      body: { ...draft, id, title: "spec-test renamed" },
    });
    expect(replaced).toMatchObject({ status: 200, body: { id, title: "spec-test renamed", version: 2 } });

    const badCategory = { ...draft, category: "SPACESHIP" };
    expect(await call("POST", collection, `/v1/vaults/${SERVICES}/items`, { body: badCategory })).toEqual({
      status: 400,
      body: { status: 400, message: "Invalid item category" },
    });
    expect(
      (await call("PUT", single, `/v1/vaults/${SERVICES}/items/${id}`, { body: badCategory })).status,
    ).toBe(400);
    expect((await call("POST", collection, `/v1/vaults/${UNKNOWN}/items`, { body: draft })).status).toBe(404);
    expect(
      (await call("PUT", single, `/v1/vaults/${SERVICES}/items/${UNKNOWN}`, { body: draft })).status,
    ).toBe(404);

    expect((await call("DELETE", single, `/v1/vaults/${SERVICES}/items/${id}`)).status).toBe(204);
    expect((await call("DELETE", single, `/v1/vaults/${SERVICES}/items/${id}`)).status).toBe(404);
  });
});
