import { ProblemError } from "@chittyconnect/contract";
import { type EdgeConfig, ONE_YEAR_SECONDS } from "../config.ts";

/**
 * The rules around admin power: how long the admin token must be, and how long the tokens it
 * mints may live. The values come validated from config.ts (absent ADMIN_TOKEN, unknown
 * ENVIRONMENT and malformed TOKEN_MAX_LIFETIME_SECONDS are `edge_misconfigured` there).
 */
export const MIN_ADMIN_TOKEN_BYTES = 32;

/**
 * Outside `ENVIRONMENT=development` (staging, production, or a config that forgot to say), an
 * ADMIN_TOKEN shorter than 32 bytes disables the admin routes with a 500 that says so: the
 * operator's mistake, never the caller's, and never a guessable key guarding token minting.
 */
export function assertAdminTokenStrength(config: Pick<EdgeConfig, "ENVIRONMENT" | "ADMIN_TOKEN">): void {
  if (config.ENVIRONMENT === "development") return;
  if (new TextEncoder().encode(config.ADMIN_TOKEN).byteLength >= MIN_ADMIN_TOKEN_BYTES) return;
  console.error(
    JSON.stringify({
      level: "error",
      msg: `ADMIN_TOKEN is shorter than ${MIN_ADMIN_TOKEN_BYTES} bytes; admin routes are disabled`,
      environment: config.ENVIRONMENT ?? null,
    }),
  );
  throw new ProblemError({
    status: 500,
    code: "admin_token_too_short",
    title: "Admin token misconfigured",
    detail: `The ADMIN_TOKEN secret is shorter than ${MIN_ADMIN_TOKEN_BYTES} bytes, so admin routes are disabled here; an operator must set a longer one.`,
  });
}

/**
 * A new token's lifetime: `expiresInSeconds` when given and within the maximum; the maximum when
 * omitted; longer than the maximum only with `allowLongLived: true` (up to one year, the schema's cap).
 */
export function tokenLifetimeSeconds(
  request: { expiresInSeconds?: number | undefined; allowLongLived?: boolean | undefined },
  maxSeconds: number,
): number {
  const asked = request.expiresInSeconds ?? maxSeconds;
  if (asked <= maxSeconds || request.allowLongLived === true) return asked;
  throw new ProblemError({
    status: 400,
    code: "token_lifetime_too_long",
    title: "Token lifetime too long",
    detail: `expiresInSeconds is above the maximum of ${maxSeconds} seconds; send "allowLongLived": true to mint a longer-lived token (at most ${ONE_YEAR_SECONDS}).`,
    errors: [{ path: "expiresInSeconds", message: `must be at most ${maxSeconds} without allowLongLived` }],
  });
}
