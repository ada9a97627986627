import { createRemoteJWKSet, type JWTVerifyGetKey, jwtVerify } from "jose";

export interface AccessVerifierOptions {
  jwksUrl: string;
  audience: string;
  issuer?: string;
  /** Injected by tests; production fetches the team's JWKS over HTTPS. */
  keys?: JWTVerifyGetKey;
}

export type AccessResult = { ok: true; subject: string | undefined } | { ok: false; reason: string };

export interface AccessVerifier {
  verify(token: string | null | undefined): Promise<AccessResult>;
}

/** Upper bound on a token we bother to parse; real Access JWTs are a few kilobytes. */
const MAX_TOKEN_LENGTH = 16_384;

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
          clockTolerance: 5,
          ...(options.issuer ? { issuer: options.issuer } : {}),
        });
        return { ok: true, subject: payload.sub };
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        return { ok: false, reason: typeof code === "string" ? code : "invalid_access_jwt" };
      }
    },
  };
}
