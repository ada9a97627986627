import { Headers, importSigningKey, type SigningKey, signRequest } from "@chittyconnect/contract";

export interface SignedInitOptions {
  key: SigningKey;
  owner: string;
  /** The token's services the edge signs; default ["*"]. */
  services?: string[];
  method?: string;
  /** A string is sent as is; anything else is JSON-encoded. */
  body?: unknown;
  /** Extra headers; content-type defaults to application/json when there is a body. */
  headers?: Record<string, string>;
  requestId?: string;
  /** Signing clock in ms and nonce, for replay and skew tests. */
  now?: number;
  nonce?: string;
}

export interface SignedInit {
  method: string;
  headers: Record<string, string>;
  body?: string;
}

/** Builds a request signed the way the edge signs it; tests may tamper with it before sending. */
export async function signedInit(url: string | URL, options: SignedInitOptions): Promise<SignedInit> {
  const method = options.method ?? (options.body === undefined ? "GET" : "POST");
  const body =
    options.body === undefined
      ? undefined
      : typeof options.body === "string"
        ? options.body
        : JSON.stringify(options.body);
  const signature = await signRequest({
    method,
    url,
    owner: options.owner,
    services: options.services ?? ["*"],
    key: options.key,
    ...(body === undefined ? {} : { body }),
    ...(options.now === undefined ? {} : { now: options.now }),
    ...(options.nonce === undefined ? {} : { nonce: options.nonce }),
  });
  const headers: Record<string, string> = {
    ...(body === undefined ? {} : { "content-type": "application/json" }),
    ...(options.requestId === undefined ? {} : { [Headers.requestId]: options.requestId }),
    ...signature,
    ...options.headers,
  };
  return { method, headers, ...(body === undefined ? {} : { body }) };
}

/** fetch() with the edge's signature headers added. */
export async function signedFetch(url: string | URL, options: SignedInitOptions): Promise<Response> {
  return fetch(url, await signedInit(url, options));
}

/** Imports a signing secret once for a test file. */
export function signingKey(secret: string): Promise<SigningKey> {
  return importSigningKey(secret);
}
