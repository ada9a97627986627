import { createRemoteJWKSet, errors, type JWTVerifyGetKey, jwtVerify } from "jose";

export interface AccessVerifierOptions {
  jwksUrl: string;
  audience: string;
  issuer?: string;
  /** Injected by tests; production fetches the team's JWKS over HTTPS. */
  keys?: JWTVerifyGetKey;
}

/** `keysUnavailable`: the team's keys could not be fetched, so no token could have passed (our fault, not the caller's). */
export type AccessResult =
  | { ok: true; subject: string | undefined }
  | { ok: false; reason: string; keysUnavailable?: boolean };

export interface AccessVerifier {
  verify(token: string | null | undefined): Promise<AccessResult>;
}

/** Upper bound on a token we bother to parse; real Access JWTs are a few kilobytes. */
const MAX_TOKEN_LENGTH = 16_384;
/** Clock difference tolerated between Cloudflare and this host, on `exp`, `nbf` and `iat`. */
export const ACCESS_CLOCK_SKEW_SECONDS = 5;

/**
 * Checks the Cloudflare Access JWT the tunnel forwards. Access signs with RS256; ES256 is accepted
 * too so the check does not depend on which key type a team's JWKS carries.
 */
export function createAccessVerifier(options: AccessVerifierOptions): AccessVerifier {
  const keys =
    options.keys ??
    createRemoteJWKSet(new URL(options.jwksUrl), { timeoutDuration: 5000, cooldownDuration: 30_000 });
  return {
    async verify(token) {
      if (!token) return { ok: false, reason: "missing_access_jwt" };
      if (token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: "oversized_access_jwt" };
      try {
        const { payload } = await jwtVerify(token, keys, {
          audience: options.audience,
          algorithms: ["RS256", "ES256"],
          clockTolerance: ACCESS_CLOCK_SKEW_SECONDS,
          // A token without an expiry would be good forever once leaked.
          requiredClaims: ["exp", "iat"],
          ...(options.issuer ? { issuer: options.issuer } : {}),
        });
        // jose checks `iat` only against a maximum age; one from the future was not issued by a sane clock.
        if (typeof payload.iat === "number" && payload.iat > Date.now() / 1000 + ACCESS_CLOCK_SKEW_SECONDS) {
          return { ok: false, reason: "access_jwt_issued_in_future" };
        }
        return { ok: true, subject: payload.sub };
      } catch (error) {
        if (
          !(error instanceof errors.JOSEError) ||
          error instanceof errors.JWKSTimeout ||
          isJwksHttpFailure(error)
        ) {
          return { ok: false, reason: "access_keys_unavailable", keysUnavailable: true };
        }
        return { ok: false, reason: error.code };
      }
    },
  };
}

/** jose reports a JWKS endpoint that answered but not with 200 as a generic JOSEError. */
function isJwksHttpFailure(error: InstanceType<typeof errors.JOSEError>): boolean {
  return error.code === "ERR_JOSE_GENERIC" && /JSON Web Key Set/i.test(error.message);
}
