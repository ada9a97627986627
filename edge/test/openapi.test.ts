import { describe, expect, it } from "vitest";
import { app } from "../src/index.ts";
import { BASE, call } from "./helpers.ts";

interface OpenApiDocument {
  servers: { url: string }[];
  paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
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
    ]);
  });
});
