import { Headers } from "../src/headers.ts";

/**
 * Known answers for the signing scheme, computed outside this code base (Python's hmac and
 * hashlib over the canonical string documented in src/signing.ts). The WebCrypto implementation
 * (contract) and the node:crypto one (origin) are both tested against these.
 */
export interface SigningVector {
  name: string;
  secret: string;
  method: string;
  url: string;
  body: string;
  owner: string;
  services: string[];
  timestamp: number;
  nonce: string;
  keyId: string;
  bodySha256: string;
  signature: string;
}

export const SIGNING_VECTORS: readonly SigningVector[] = [
  {
    name: "provision with one service",
    secret: "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk",
    method: "POST",
    url: "https://origin.internal/v1/credentials/provision",
    body: '{"service":"chittyid","credentialPath":"services/chittyid/service_token","purpose":"deploy"}',
    owner: "01-C-PROD-0001-P-2501-A-X",
    services: ["chittyid"],
    timestamp: 1790000000123,
    nonce: "AAAAAAAAAAAAAAAAAAAAAAAA",
    keyId: "5e318f8cf9cbe249",
    bodySha256: "a3d57d1917d380a40f971f53c063e0669e37940e34457d0d7b930990dc2b92d6",
    signature: "TX9CEhqBz4bFpp2ts1_M797XKy-A-msWIEFDaKFUo9M",
  },
  {
    name: "audit with every service",
    secret: "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk",
    method: "GET",
    url: "https://origin.internal/v1/audit?limit=50&before=7",
    body: "",
    owner: "owner-1",
    services: ["*"],
    timestamp: 1790000061000,
    nonce: "nonce_-0123456789abcdef",
    keyId: "5e318f8cf9cbe249",
    bodySha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    signature: "QWp6Aj-Bb-_benq_F9Q9w7s_G5iXYNuxpJe4OLWYrLY",
  },
  {
    name: "no services, non-ASCII body",
    secret: "another-signing-secret-of-40-bytes-xyz12",
    method: "POST",
    url: "https://origin.internal/v1/credentials/rotate",
    body: '{"purpose":"rotación ✓"}',
    owner: "owner_2",
    services: [],
    timestamp: 1790000123999,
    nonce: "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ",
    keyId: "045dabb9903f463e",
    bodySha256: "236839e9acfe5c84c851b056a2d66d33a67a071b67719d0634eb3cab57e487db",
    signature: "l0CZqH9cGkLVlDU48sop-dTncxQHMnW7ahE0ffMse38",
  },
  {
    name: "several services",
    secret: "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk",
    method: "POST",
    url: "https://origin.internal/v1/credentials/provision",
    body: "{}",
    owner: "owner-3",
    services: ["billing", "chittyid", "chittyrouter"],
    timestamp: 1790000200007,
    nonce: "abcdefghijklmnop",
    keyId: "5e318f8cf9cbe249",
    bodySha256: "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
    signature: "rKhbNsuQN_7YqjCfCrtijVGPpFcqKBJvgSafrAjkWPY",
  },
];

/** The headers the edge sends for a vector. */
export function vectorHeaders(vector: SigningVector): Record<string, string> {
  return {
    [Headers.owner]: vector.owner,
    ...(vector.services.length === 0 ? {} : { [Headers.services]: vector.services.join(",") }),
    [Headers.timestamp]: String(vector.timestamp),
    [Headers.nonce]: vector.nonce,
    [Headers.contentSha256]: vector.bodySha256,
    [Headers.keyId]: vector.keyId,
    [Headers.signature]: vector.signature,
  };
}
