export {
  type BodyOf,
  type ChittyClient,
  type ClientOptions,
  type Credential,
  type CredentialRequest,
  createClient,
  type QueryOf,
  type Schemas,
} from "./client.ts";
export type { components, paths } from "./generated/edge-api.d.ts";
export { ChittyNetworkError, ChittyProblemError } from "./problem.ts";
export { backoffDelay, DEFAULT_RETRY_POLICY, nextDelay, parseRetryAfter, type RetryPolicy } from "./retry.ts";
export { createSealingKey, type RecipientPublicKey, type SealingKey } from "./seal.ts";
