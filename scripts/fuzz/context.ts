import type { FuzzContext } from "./requests.ts";

/** The owner the fuzz's own tokens belong to. */
export const FUZZ_OWNER = "01-C-FUZZ-0001-P-2611-A-1";

async function mint(target: string, adminToken: string, scopes: string[]): Promise<string> {
  // A credentials token names its services; `*` lets the fuzz reach the policy with any service name.
  const services = scopes.some((scope) => scope.startsWith("credentials:")) ? { services: ["*"] } : {};
  const response = await fetch(new URL("/api/v1/admin/tokens", target), {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: JSON.stringify({ owner: FUZZ_OWNER, scopes, ...services, label: "fuzz", expiresInSeconds: 3600 }),
  });
  if (response.status !== 201) throw new Error(`minting the fuzz token failed: ${response.status}`);
  return ((await response.json()) as { token: string }).token;
}

/** Mints the tokens the fuzz sends: one with every credential scope, one that may only read. */
export async function prepareContext(target: string, adminToken: string): Promise<FuzzContext> {
  const tokens = [
    await mint(target, adminToken, ["credentials:provision", "credentials:rotate", "usage:read"]),
    await mint(target, adminToken, ["usage:read"]),
  ];
  return { adminToken, tokens, owner: FUZZ_OWNER };
}
