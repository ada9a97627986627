import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { app } from "../src/index.ts";
import { BASE } from "./helpers.ts";

/**
 * The Worker's app with this environment, waiting for everything it handed to `waitUntil` (cache
 * writes, analytics), so the next request sees their effect.
 */
export async function fetchSettled(
  path: string,
  init: RequestInit = {},
  overrides: Record<string, unknown> = {},
): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await app.fetch(new Request(`${BASE}${path}`, init), { ...env, ...overrides }, ctx);
  const body = await response.arrayBuffer();
  await waitOnExecutionContext(ctx);
  return new Response([204, 304].includes(response.status) ? null : body, {
    status: response.status,
    headers: response.headers,
  });
}
