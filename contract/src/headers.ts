/** Header names shared by the edge and the origin. Lower-case so they compare as HTTP does. */
export const Headers = {
  requestId: "x-request-id",
  chittyId: "x-chittyid",
  owner: "x-chitty-owner",
  /** The token's services, comma-separated; absent when the token names none. */
  services: "x-chitty-services",
  timestamp: "x-chitty-timestamp",
  nonce: "x-chitty-nonce",
  contentSha256: "x-chitty-content-sha256",
  keyId: "x-chitty-key-id",
  signature: "x-chitty-signature",
  accessJwt: "cf-access-jwt-assertion",
  accessClientId: "cf-access-client-id",
  accessClientSecret: "cf-access-client-secret",
} as const;
