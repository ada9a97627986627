import { ProblemError } from "@chittyconnect/contract";
import { z } from "zod";

/**
 * The rules around admin power: how long the admin token must be, and how long the tokens it
 * mints may live.
 */
export const MIN_ADMIN_TOKEN_LENGTH = 32;
export const ONE_YEAR_SECONDS = 365 * 24 * 60 * 60;
export const DEFAULT_TOKEN_MAX_LIFETIME_SECONDS = 90 * 24 * 60 * 60;

/**
 * Outside `ENVIRONMENT=development` (staging, production, or a config that forgot to say), a
 * missing or short ADMIN_TOKEN disables the admin routes with a 500 that says so: the operator's
 * mistake, never the caller's, and never a guessable key guarding token minting.
 */
export function assertAdminTokenStrength(env: { ENVIRONMENT?: string; ADMIN_TOKEN?: string }): void {
  if (env.ENVIRONMENT === "development") return;
  if ((env.ADMIN_TOKEN ?? "").length >= MIN_ADMIN_TOKEN_LENGTH) return;
  console.error(
    JSON.stringify({
      level: "error",
      msg: `ADMIN_TOKEN is missing or shorter than ${MIN_ADMIN_TOKEN_LENGTH} characters; admin routes are disabled`,
      environment: env.ENVIRONMENT ?? null,
    }),
  );
  throw new ProblemError({
    status: 500,
    code: "admin_token_too_short",
    title: "Admin token misconfigured",
    detail: `The ADMIN_TOKEN secret is missing or shorter than ${MIN_ADMIN_TOKEN_LENGTH} characters, so admin routes are disabled here; an operator must set a longer one.`,
  });
}

const MaxLifetimeSchema = z.coerce.number().int().min(60).max(ONE_YEAR_SECONDS);

/** `TOKEN_MAX_LIFETIME_SECONDS` (unset or empty: 90 days); a bad value is a 500 naming the variable. */
export function tokenMaxLifetimeSeconds(text: string | undefined): number {
  if (text === undefined || text.trim() === "") return DEFAULT_TOKEN_MAX_LIFETIME_SECONDS;
  const parsed = MaxLifetimeSchema.safeParse(text);
  if (parsed.success) return parsed.data;
  throw new ProblemError({
    status: 500,
    code: "config_invalid",
    title: "Edge misconfigured",
    detail: `TOKEN_MAX_LIFETIME_SECONDS must be a whole number of seconds from 60 to ${ONE_YEAR_SECONDS}.`,
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
