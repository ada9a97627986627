import { describe, expect, it } from "vitest";
import { SCOPES } from "../src/auth/scopes.ts";
import { app } from "../src/index.ts";
import { ADMIN, BASE, bearer, call, mintToken, uniqueOwner } from "./helpers.ts";

interface Parameter {
  name: string;
  in: string;
  schema?: { enum?: string[] };
}

interface OpenApiDocument {
  servers: { url: string }[];
  paths: Record<string, Record<string, { responses: Record<string, unknown>; parameters?: Parameter[] }>>;
}

async function fetchDocument(): Promise<OpenApiDocument> {
  const response = await call("/api/v1/openapi.json");
  expect(response.status).toBe(200);
  return (await response.json()) as OpenApiDocument;
}

/** `METHOD /path/{param}` for every handler the Hono app routes (middleware registers as ALL). */
function appRoutes(): string[] {
  const routes = app.routes
    .filter((route) => route.method !== "ALL")
    .map((route) => `${route.method} ${route.path.replace(/:([A-Za-z0-9_]+)/g, "{$1}")}`);
  return [...new Set(routes)].sort();
}

/** A path item's operations; its other members (`parameters`, `summary`, …) are not routes. */
const METHODS = new Set(["get", "put", "post", "delete", "options", "head", "patch", "trace"]);

function documentedRoutes(doc: OpenApiDocument): string[] {
  return Object.entries(doc.paths)
    .flatMap(([path, item]) =>
      Object.keys(item)
        .filter((member) => METHODS.has(member))
        .map((method) => `${method.toUpperCase()} ${path}`),
    )
    .sort();
}

/** A concrete URL for a documented path: the first enum value, else an id that names nothing. */
function concretePath(path: string, parameters: Parameter[] = []): string {
  return path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const values = parameters.find((p) => p.in === "path" && p.name === name)?.schema?.enum;
    return values?.[0] ?? "00000000-0000-4000-8000-000000000000";
  });
}

describe("the OpenAPI document against the app's routes", () => {
  it("documents every route the edge serves, and no route it does not serve", async () => {
    const routes = appRoutes();
    // The walk sees the app as built, so a capability mounted later is checked without editing this test.
    expect(routes).toEqual(
      expect.arrayContaining([
        "GET /health",
        "POST /api/v1/admin/tokens",
        "DELETE /api/v1/admin/tokens/{id}",
      ]),
    );
    expect(documentedRoutes(await fetchDocument())).toEqual(routes);
  });

  it("names the server it was fetched from and the 409 of the credential routes", async () => {
    const doc = await fetchDocument();
    expect(doc.servers).toEqual([{ url: BASE, description: "the edge that served this document" }]);
    for (const path of ["/api/v1/credentials/provision", "/api/v1/credentials/rotate"]) {
      expect(Object.keys(doc.paths[path]?.post?.responses ?? {})).toContain("409");
    }
    expect(Object.keys(doc.paths["/api/v1/admin/tokens/{id}"]?.delete?.responses ?? {})).toEqual([
      "204",
      "401",
      "404",
      "429",
    ]);
  });

  it("lists the platform's 429 and 503 on each operation they can answer, and not on the others", async () => {
    const doc = (await fetchDocument()) as unknown as {
      paths: Record<
        string,
        Record<string, { responses: Record<string, { description: string; headers?: object }> }>
      >;
    };
    const op = (path: string, method: string) => doc.paths[path]?.[method]?.responses ?? {};
    for (const [path, method] of [
      ["/api/v1/credentials/provision", "post"],
      ["/api/v1/sessions", "get"],
      ["/api/v1/documents/{id}", "get"],
      ["/api/v1/usage", "get"],
      ["/api/v1/documents/presigned/{token}", "get"],
      ["/health", "get"],
      ["/api/v1/admin/tokens", "post"],
    ] as const) {
      expect(op(path, method)["429"], `${method} ${path}`).toEqual({
        $ref: "#/components/responses/RateLimited",
      });
    }
    expect(op("/docs", "get")["429"]).toBeUndefined();
    expect(op("/api/v1/credentials/provision", "post")["503"]?.description).toMatch(
      /`credentials`.*rate_limiter_unavailable/,
    );
    expect(op("/api/v1/documents/{id}", "get")["503"]?.description).toContain("`r2Storage`");
    // Presigned links and sessions are never switched off by a flag (sessions fall back to KV).
    expect(op("/api/v1/documents/presigned/{token}", "get")["503"]?.description ?? "").not.toContain(
      "feature_disabled",
    );
    expect(op("/api/v1/sessions", "get")["503"]?.description ?? "").not.toContain("feature_disabled");
  });

  it("every documented operation is routed: no router 404 (code not_found) and no 405", async () => {
    const doc = await fetchDocument();
    // Every scope, so a 403 never hides whether the route exists.
    const { token } = await mintToken(uniqueOwner("openapi"), [...SCOPES], { services: ["*"] });
    let operations = 0;
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        if (!METHODS.has(method)) continue;
        operations++;
        const url = concretePath(path, operation.parameters);
        const headers = path.startsWith("/api/v1/admin/") ? ADMIN : bearer(token);
        const response = await call(url, { method: method.toUpperCase(), headers });
        const body = await response.text();
        const code = response.headers.get("content-type")?.includes("problem+json")
          ? (JSON.parse(body) as { code: string }).code
          : undefined;
        expect(response.status, `${method.toUpperCase()} ${url}`).not.toBe(405);
        expect(code, `${method.toUpperCase()} ${url} → ${response.status}`).not.toBe("not_found");
      }
    }
    expect(operations).toBe(documentedRoutes(doc).length);
    expect(operations).toBeGreaterThan(50);
  }, 120_000);
});
