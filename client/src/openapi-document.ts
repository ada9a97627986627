/** The edge's OpenAPI document with its parts that depend on where it was fetched (`servers`) removed. */
export interface OpenApiDocument {
  openapi: string;
  paths: Record<string, unknown>;
  components?: { schemas?: Record<string, unknown>; [member: string]: unknown };
  [member: string]: unknown;
}

/**
 * The document as `client/openapi.json` keeps it: `servers` names the edge that answered (a port that
 * changes per run), so it is dropped; everything else is compared byte for byte.
 */
export function normalizeDocument(served: unknown): OpenApiDocument {
  if (typeof served !== "object" || served === null || !("paths" in served) || !("openapi" in served)) {
    throw new Error("not an OpenAPI document (no openapi or paths member)");
  }
  const { servers: _servers, ...rest } = served as OpenApiDocument;
  return rest;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * A copy of the document whose schema-local `definitions` (zod's recursive types, e.g. a JSON value,
 * come out as `{"$ref":"#/definitions/__schema0"}` beside a nested `definitions` member) are moved to
 * `components/schemas`. OpenAPI resolves `#/…` against the document root, so as served those references
 * point nowhere and type generators refuse them. Identical definitions share one component.
 */
export function hoistLocalDefinitions(document: OpenApiDocument): OpenApiDocument {
  const copy = structuredClone(document) as OpenApiDocument;
  const hoisted: Record<string, Json> = {};
  const byText = new Map<string, string>();

  const rewrite = (node: Json, names: ReadonlyMap<string, string>): Json => {
    if (Array.isArray(node)) return node.map((item) => rewrite(item, names));
    if (node === null || typeof node !== "object") return node;
    let scope = names;
    const local = node.definitions;
    if (local && typeof local === "object" && !Array.isArray(local)) {
      const next = new Map(names);
      for (const [name, definition] of Object.entries(local)) {
        const text = JSON.stringify(definition);
        let component = byText.get(text);
        if (!component) {
          component = `Inline${byText.size + 1}`;
          byText.set(text, component);
        }
        next.set(`#/definitions/${name}`, `#/components/schemas/${component}`);
      }
      scope = next;
      for (const [name, definition] of Object.entries(local)) {
        const component = scope.get(`#/definitions/${name}`)?.slice("#/components/schemas/".length);
        if (component && !(component in hoisted)) hoisted[component] = rewrite(definition, scope);
      }
    }
    const out: { [key: string]: Json } = {};
    for (const [key, value] of Object.entries(node)) {
      if (key === "definitions" && scope !== names) continue;
      out[key] =
        key === "$ref" && typeof value === "string" ? (scope.get(value) ?? value) : rewrite(value, scope);
    }
    return out;
  };

  copy.paths = rewrite(copy.paths as Json, new Map()) as Record<string, unknown>;
  if (copy.components?.schemas) {
    copy.components.schemas = rewrite(copy.components.schemas as Json, new Map()) as Record<string, unknown>;
  }
  copy.components = { ...copy.components, schemas: { ...copy.components?.schemas, ...hoisted } };
  return copy;
}
