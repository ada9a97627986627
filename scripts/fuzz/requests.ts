import fc from "fast-check";

/** What the fuzz knows about the stack it targets: tokens to send and the owner they belong to. */
export interface FuzzContext {
  adminToken: string;
  /** Bearer tokens the fuzz minted: one with every credential scope, one read-only. */
  tokens: string[];
  owner: string;
}

export type FuzzBody =
  | { kind: "none" }
  | { kind: "bytes"; data: Uint8Array }
  /** Sent chunked, without Content-Length, as a streamed fetch body is. */
  | { kind: "stream"; bytes: number; chunkBytes: number };

export interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: FuzzBody;
}

/** Where the bodies matter: most requests go here. */
const CREDENTIAL_ROUTES = [
  "/api/v1/credentials/provision",
  "/api/v1/credentials/rotate",
  "/api/v1/admin/tokens",
];

const ROUTES = [
  "/health",
  "/api/v1/status",
  "/api/v1/openapi.json",
  "/api/v1/admin/tokens",
  "/api/v1/admin/tokens/tok_00000000-0000-0000-0000-000000000000",
  "/api/v1/credentials/provision",
  "/api/v1/credentials/rotate",
  "/api/v1/credentials/audit",
  "/api/v1/sessions",
  "/",
];

/** Methods fetch lets a client send (it forbids CONNECT, TRACE and TRACK), known and made up. */
const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "PROPFIND", "FOO", "get"];

const PATH_NOISE = [
  "",
  "/",
  "/..",
  "/../../etc/passwd",
  "/%2e%2e/%2e%2e",
  "/%00",
  "/%ff%fe",
  "//",
  "/__proto__",
  "/constructor/prototype",
  "/tok_%F0%9F%92%A9",
  `/${"a".repeat(4000)}`,
  ";jsessionid=1",
];

const QUERIES = [
  "",
  "?limit=1",
  "?limit=0",
  "?limit=-1",
  "?limit=1e309",
  "?limit=abc&before=-5",
  "?before=99999999999999999999999",
  "?owner=%00&cursor=%%%",
  "?cursor=eyJ4Ijp7fX0",
  "?__proto__[polluted]=1",
  `?q=${"x".repeat(6000)}`,
];

const CONTENT_TYPES = [
  "application/json",
  "application/json; charset=utf-8",
  "APPLICATION/JSON",
  "application/json; charset=utf-16",
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=xyz",
  "application/problem+json",
  "application/json;;;",
  "",
  "*/*",
];

const OWNERS_AND_SERVICES = ["chittyid", "chittyrouter", "", "*", "__proto__", "💥", "x".repeat(300)];
const PATHS = [
  "services/chittyid/service_token",
  "services/chittyrouter+beta/token",
  'services/chittyid "legacy"/token',
  "emergency/break-glass/password",
  "services/chittyid",
  "../../etc/passwd",
  "services/*/*",
  "a/b/c/d",
  "",
];

const jsonText = (value: unknown) => JSON.stringify(value);
const encoder = new TextEncoder();

/** Bodies: valid requests, their near misses, and the shapes that break naive parsers. */
function bodyArbitrary(context: FuzzContext): fc.Arbitrary<FuzzBody> {
  const bytes = (text: fc.Arbitrary<string>): fc.Arbitrary<FuzzBody> =>
    text.map((data) => ({ kind: "bytes", data: encoder.encode(data) }));
  const credentialRequest = fc.record(
    {
      service: fc.constantFrom(...OWNERS_AND_SERVICES),
      credentialPath: fc.constantFrom(...PATHS),
      purpose: fc.oneof(fc.string(), fc.constant("fuzz")),
      recipientPublicKey: fc.oneof(
        fc.constant({ kty: "EC", crv: "P-256", x: "AAAA", y: "BBBB" }),
        fc.constant({ kty: "RSA", n: "x", e: "AQAB" }),
        fc.jsonValue({ maxDepth: 2 }),
      ),
      extra: fc.jsonValue({ maxDepth: 2 }),
    },
    { requiredKeys: [] },
  );
  const mint = fc.record(
    {
      owner: fc.oneof(fc.constant(context.owner), fc.string()),
      scopes: fc.oneof(
        fc.constant(["credentials:provision"]),
        fc.array(fc.constantFrom("admin", "usage:read", "nope", "credentials:rotate", ""), { maxLength: 5 }),
        fc.jsonValue({ maxDepth: 1 }),
      ),
      label: fc.string(),
      expiresInSeconds: fc.oneof(fc.integer(), fc.double(), fc.constant(1e308), fc.constant(-1)),
    },
    { requiredKeys: [] },
  );
  return fc.oneof(
    { arbitrary: fc.constant<FuzzBody>({ kind: "none" }), weight: 2 },
    { arbitrary: bytes(credentialRequest.map(jsonText)), weight: 4 },
    { arbitrary: bytes(mint.map(jsonText)), weight: 2 },
    { arbitrary: bytes(fc.jsonValue({ maxDepth: 4 }).map(jsonText)), weight: 2 },
    // Invalid JSON: cut short, trailing garbage, lone surrogates escaped, comments.
    {
      arbitrary: bytes(
        fc.oneof(
          credentialRequest.map((value) => jsonText(value).slice(0, -1)),
          fc.constantFrom("{", "}", "[1,]", '{"a":1}//', "nul", '"\\ud800"', "{'single':1}", "\u0000"),
          fc.string(),
        ),
      ),
      weight: 2,
    },
    // Deep nesting, within and beyond the size limit.
    {
      arbitrary: bytes(
        fc
          .integer({ min: 100, max: 40_000 })
          .chain((depth) =>
            fc.constantFrom(
              `${"[".repeat(depth)}${"]".repeat(depth)}`,
              `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`,
            ),
          ),
      ),
      weight: 1,
    },
    // Prototype keys at the top and nested.
    {
      arbitrary: bytes(
        fc.constantFrom(
          '{"__proto__":{"admin":true},"service":"chittyid","credentialPath":"services/chittyid/service_token","purpose":"x"}',
          '{"constructor":{"prototype":{"polluted":1}},"owner":"x","scopes":["admin"]}',
          '{"service":{"__proto__":null},"credentialPath":{"toString":1},"purpose":[]}',
          '{"__proto__":[],"scopes":{"__proto__":["admin"]}}',
        ),
      ),
      weight: 1,
    },
    // 70 KB strings: over the 64 KiB limit, with an honest Content-Length.
    {
      arbitrary: bytes(
        fc.constantFrom(
          jsonText({ service: "chittyid", credentialPath: PATHS[0], purpose: "p".repeat(70_000) }),
          jsonText({ owner: "o".repeat(70_000), scopes: ["credentials:provision"] }),
        ),
      ),
      weight: 1,
    },
    // Random bytes, invalid UTF-8 included.
    {
      arbitrary: fc.uint8Array({ maxLength: 512 }).map((data): FuzzBody => ({ kind: "bytes", data })),
      weight: 1,
    },
    // Chunked bodies without Content-Length, mostly over the limit.
    {
      arbitrary: fc.record({
        kind: fc.constant("stream" as const),
        bytes: fc.oneof(fc.integer({ min: 0, max: 2_000_000 }), fc.constant(1_048_576)),
        // Not smaller: 1 KiB chunks through wrangler's dev proxy take seconds per megabyte.
        chunkBytes: fc.constantFrom(16_384, 65_536),
      }),
      weight: 1,
    },
  );
}

function authorizationArbitrary(context: FuzzContext): fc.Arbitrary<string | undefined> {
  return fc.oneof(
    fc.constant(undefined),
    { arbitrary: fc.constantFrom(...context.tokens.map((token) => `Bearer ${token}`)), weight: 4 },
    fc.constant(`Bearer ${context.adminToken}`),
    fc.constantFrom("Bearer", "Bearer ", "Basic dXNlcjpwYXNz", `Bearer cc_${"A".repeat(43)}`, "bearer  x"),
    // A real token cut or changed by one character: still refused, never a 5xx.
    fc.constantFrom(...context.tokens).map((token) => `Bearer ${token.slice(0, -1)}`),
    fc.stringMatching(/^[\x21-\x7e]{0,80}$/).map((text) => `Bearer ${text}`),
  );
}

/** Header values fetch accepts: printable ASCII without CR/LF (anything else is the client's own error). */
const headerValue = fc.stringMatching(/^[\x20-\x7e]{0,200}$/).map((value) => value.trim());

const RUNTIME_DRAIN_BYTES = 64 * 1024;

function bodyFor(method: string, body: FuzzBody): FuzzBody {
  // fetch refuses a body on GET and HEAD: that would be the fuzz client's own mistake.
  if (method === "GET" || method === "HEAD" || method === "get") return { kind: "none" };
  // The runtime answers a method it does not know (501) before any of our code runs, and closes
  // the connection under a body larger than what it drains itself: not ours to count as a drop.
  if (!["POST", "PUT", "PATCH", "DELETE", "OPTIONS"].includes(method)) {
    if (body.kind === "stream") return { kind: "none" };
    if (body.kind === "bytes" && body.data.byteLength > RUNTIME_DRAIN_BYTES) return { kind: "none" };
  }
  return body;
}

export function requestArbitrary(context: FuzzContext): fc.Arbitrary<FuzzRequest> {
  return fc
    .record({
      method: fc.oneof(
        { arbitrary: fc.constantFrom("GET", "POST"), weight: 3 },
        { arbitrary: fc.constantFrom(...METHODS), weight: 1 },
      ),
      route: fc.oneof(
        { arbitrary: fc.constantFrom(...CREDENTIAL_ROUTES), weight: 4 },
        { arbitrary: fc.constantFrom(...ROUTES), weight: 2 },
      ),
      noise: fc.oneof(
        { arbitrary: fc.constant(""), weight: 3 },
        { arbitrary: fc.constantFrom(...PATH_NOISE), weight: 1 },
      ),
      query: fc.oneof(
        { arbitrary: fc.constant(""), weight: 2 },
        { arbitrary: fc.constantFrom(...QUERIES), weight: 1 },
      ),
      authorization: authorizationArbitrary(context),
      contentType: fc.oneof(
        { arbitrary: fc.constant("application/json"), weight: 3 },
        { arbitrary: fc.option(fc.constantFrom(...CONTENT_TYPES), { nil: undefined }), weight: 1 },
      ),
      chittyId: fc.option(fc.oneof(fc.constant(context.owner), headerValue), { nil: undefined, freq: 4 }),
      requestId: fc.option(headerValue, { nil: undefined, freq: 4 }),
      extra: fc.dictionary(fc.stringMatching(/^x-[a-z0-9-]{1,20}$/), headerValue, { maxKeys: 3 }),
      body: bodyArbitrary(context),
    })
    .map(({ method, route, noise, query, authorization, contentType, chittyId, requestId, extra, body }) => {
      const headers: Record<string, string> = { ...extra };
      if (authorization !== undefined) headers.authorization = authorization;
      if (contentType !== undefined) headers["content-type"] = contentType;
      if (chittyId !== undefined) headers["x-chittyid"] = chittyId;
      if (requestId !== undefined) headers["x-request-id"] = requestId;
      return { method, path: `${route}${noise}${query}`, headers, body: bodyFor(method, body) };
    });
}

/** `count` requests from `seed`, generated in batches so a long run never holds them all. */
export function* generateRequests(context: FuzzContext, seed: number, count: number): Generator<FuzzRequest> {
  const arbitrary = requestArbitrary(context);
  const batch = 500;
  for (let start = 0; start < count; start += batch) {
    const size = Math.min(batch, count - start);
    yield* fc.sample(arbitrary, { seed: seed + start, numRuns: size });
  }
}
