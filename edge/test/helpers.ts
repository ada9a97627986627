import { env } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { type NonceStore, type SigningKey, verifyRequest } from "@chittyconnect/contract";

export const BASE = "https://edge.test";
export const ADMIN = { authorization: "Bearer test-admin-token" };

/** Sends a request through the Worker's real fetch handler. */
export function call(path: string, init: RequestInit = {}): Promise<Response> {
  return exports.default.fetch(new Request(`${BASE}${path}`, init));
}

export function jsonInit(method: string, body: unknown, headers: Record<string, string> = {}): RequestInit {
  return { method, headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) };
}

export interface MintedToken {
  id: string;
  token: string;
  owner: string;
  scopes: string[];
  services: string[] | null;
  expiresAt: string | null;
}

/** Tokens with a credentials scope are bound to "billing" (the service tests ask for) unless told. */
export async function mintToken(
  owner: string,
  scopes: string[],
  extra: { label?: string; expiresInSeconds?: number; services?: string[] } = {},
): Promise<MintedToken> {
  const services = scopes.some((scope) => scope.startsWith("credentials:")) ? { services: ["billing"] } : {};
  const response = await call(
    "/api/v1/admin/tokens",
    jsonInit("POST", { owner, scopes, ...services, ...extra }, ADMIN),
  );
  if (response.status !== 201) throw new Error(`mint failed: ${response.status} ${await response.text()}`);
  return (await response.json()) as MintedToken;
}

export function bearer(token: string, headers: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${token}`, ...headers };
}

export function uniqueOwner(prefix = "owner"): string {
  return `${prefix}-${crypto.randomUUID()}`;
}

export { env };

/** What a real origin does first: check the contract signature over the body the edge sent. */
export async function verifyEdgeSignature(request: Request, key: SigningKey, nonces: NonceStore) {
  const body = new Uint8Array(await request.arrayBuffer());
  return verifyRequest({
    method: request.method,
    url: request.url,
    headers: request.headers,
    body,
    keys: [key],
    nonces,
  });
}
