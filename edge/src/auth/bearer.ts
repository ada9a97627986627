import { Headers, ProblemError, servicesAllow } from "@chittyconnect/contract";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env.ts";
import type { Scope } from "./scopes.ts";
import { parseBearer } from "./token-format.ts";
import { TokenStore } from "./token-store.ts";

export interface AuthContext {
  tokenId: string;
  owner: string;
  scopes: readonly Scope[];
  /** The services the token is bound to; [] when it names none. */
  services: readonly string[];
}

// One message for every rejected token, so callers cannot probe which tokens exist or were revoked.
export function unauthorized(
  detail = "A valid bearer token is required.",
  realm = "chittyconnect",
): ProblemError {
  return new ProblemError({
    status: 401,
    code: "unauthorized",
    title: "Unauthorized",
    detail,
    headers: { "www-authenticate": `Bearer realm="${realm}"` },
  });
}

export const bearerAuth = createMiddleware<AppEnv>(async (c, next) => {
  const token = parseBearer(c.req.header("authorization"));
  if (!token) throw unauthorized();
  const store = new TokenStore(c.env.DB);
  const record = await store.authenticate(token);
  if (!record) throw unauthorized();
  // A hint for operators, written after the answer: its failure must not fail the request.
  c.executionCtx.waitUntil(
    store.recordUse(record).catch((error: unknown) => {
      const name = error instanceof Error ? error.name : typeof error;
      console.warn(
        JSON.stringify({
          level: "warn",
          msg: "last_used_at update failed",
          requestId: c.get("requestId"),
          error: name,
        }),
      );
    }),
  );
  const claimed = c.req.header(Headers.chittyId);
  if (claimed !== undefined && claimed !== record.owner) {
    throw new ProblemError({
      status: 403,
      code: "owner_mismatch",
      title: "Forbidden",
      detail: "The X-ChittyID header does not match the token's owner.",
    });
  }
  c.set("auth", {
    tokenId: record.id,
    owner: record.owner,
    scopes: record.scopes,
    services: record.services ?? [],
  });
  await next();
});

/** Passes when the token holds at least one of `scopes`. */
export function requireScope(...scopes: [Scope, ...Scope[]]) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const granted = c.get("auth").scopes;
    if (!scopes.some((scope) => granted.includes(scope))) {
      throw new ProblemError({
        status: 403,
        code: "insufficient_scope",
        title: "Forbidden",
        detail: `This operation requires the scope ${scopes.join(" or ")}.`,
        headers: { "www-authenticate": `Bearer error="insufficient_scope", scope="${scopes.join(" ")}"` },
      });
    }
    await next();
  });
}

/**
 * The request's `service` must be one the token is bound to. A token bound to none holds a
 * credentials scope only because it was minted before tokens named their services.
 */
export function requireService(auth: AuthContext, service: string): void {
  if (auth.services.length === 0) {
    throw new ProblemError({
      status: 403,
      code: "token_services_missing",
      title: "Forbidden",
      detail:
        "This token is bound to no service (it predates service binding); mint a new one with `services`.",
    });
  }
  if (!servicesAllow(auth.services, service)) {
    throw new ProblemError({
      status: 403,
      code: "service_not_allowed",
      title: "Forbidden",
      detail: `This token is not bound to the service ${JSON.stringify(service)}.`,
    });
  }
}
