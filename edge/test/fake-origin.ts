import {
  Headers,
  importSigningKey,
  MemoryNonceStore,
  PROBLEM_CONTENT_TYPE,
  type SigningKey,
  verifyRequest,
} from "@chittyconnect/contract";

/**
 * A stand-in for the origin, served over real HTTP on 127.0.0.1 by the global setup. It verifies the
 * contract signature for real, so a passing test proves the edge signed method, path, body and
 * owner correctly. Behaviour is chosen by the signed owner, which keeps test files independent.
 */
export const TEST_SIGNING_KEY = "test-edge-signing-key-0123456789abcdef";
export const TEST_ACCESS = { clientId: "test-access-id.access", clientSecret: "test-access-secret" };

/** Owners with special behaviour; every other owner gets normal answers. */
export const Scenario = {
  slow: "owner-slow",
  notFound: "owner-notfound",
  busy: "owner-busy",
  broken: "owner-broken",
  garbage: "owner-garbage",
  noAccess: "owner-noaccess",
} as const;

function problem(
  status: number,
  code: string,
  title: string,
  headers: Record<string, string> = {},
): Response {
  return new Response(
    JSON.stringify({ type: `https://chittyconnect.dev/problems/${code}`, title, status, code }),
    {
      status,
      headers: { "content-type": PROBLEM_CONTENT_TYPE, ...headers },
    },
  );
}

function json(body: unknown): Response {
  return new Response(JSON.stringify(body), { headers: { "content-type": "application/json" } });
}

function lease() {
  const issuedAt = new Date();
  return {
    id: `lease-${crypto.randomUUID()}`,
    issuedAt: issuedAt.toISOString(),
    expiresAt: new Date(issuedAt.getTime() + 300_000).toISOString(),
  };
}

function auditEntry(owner: string, seq: number, requestId: string) {
  return {
    seq,
    at: new Date().toISOString(),
    requestId,
    owner,
    service: "billing",
    action: "provision",
    credentialPath: "services/chittyid/service_token",
    purpose: "test",
    outcome: "allowed",
    sealed: false,
    prevHash: "0".repeat(64),
    hash: "1".repeat(64),
  };
}

export function createFakeOrigin(): (request: Request) => Promise<Response> {
  const nonces = new MemoryNonceStore();
  let keys: Promise<SigningKey[]> | undefined;

  return async (request) => {
    const url = new URL(request.url);

    if (url.pathname === "/readyz") {
      return json({ status: "ready", connect: { reachable: true, synced: true, latencyMs: 3 } });
    }
    if (
      request.headers.get(Headers.accessClientId) !== TEST_ACCESS.clientId ||
      request.headers.get(Headers.accessClientSecret) !== TEST_ACCESS.clientSecret
    ) {
      return problem(401, "access_denied", "Unauthorized");
    }
    const body = new Uint8Array(await request.arrayBuffer());
    keys ??= importSigningKey(TEST_SIGNING_KEY).then((key) => [key]);
    const verified = await verifyRequest({
      method: request.method,
      url,
      headers: request.headers,
      body,
      keys: await keys,
      nonces,
    });
    if (!verified.ok) return problem(401, `signature_${verified.reason}`, "Unauthorized");
    const owner = verified.owner;
    const requestId = request.headers.get(Headers.requestId) ?? "missing";

    switch (owner) {
      case Scenario.slow:
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        break;
      case Scenario.notFound:
        return problem(404, "credential_not_found", "Credential not found");
      case Scenario.busy:
        return problem(503, "connect_unreachable", "Connect unreachable", { "retry-after": "7" });
      case Scenario.broken:
        return problem(500, "connect_error", "Connect failed");
      case Scenario.garbage:
        return json({ unexpected: true });
    }

    if (request.method === "POST" && url.pathname.startsWith("/v1/credentials/")) {
      const input = JSON.parse(new TextDecoder().decode(body)) as {
        credentialPath: string;
        idempotencyKey?: string;
      };
      const action = url.pathname.slice("/v1/credentials/".length);
      const key = input.idempotencyKey === undefined ? "" : `:key=${input.idempotencyKey}`;
      return json({
        credentialPath: input.credentialPath,
        sealed: false,
        // Echoes what the signature covered so tests can see the origin received it intact.
        value: `${action}:${owner}:${verified.services.join(",")}:${requestId}${key}`,
        lease: lease(),
      });
    }
    if (request.method === "GET" && url.pathname === "/v1/audit") {
      const limit = Number(url.searchParams.get("limit"));
      const before = Number(url.searchParams.get("before") ?? 100);
      const count = Math.min(limit, before - 1, 3);
      const entries = Array.from({ length: count }, (_, i) => auditEntry(owner, before - 1 - i, requestId));
      const last = entries.at(-1);
      return json({ entries, ...(last && last.seq > 1 ? { nextBefore: last.seq } : {}) });
    }
    return problem(404, "not_found", "Not found");
  };
}
