import createFetchClient, { type Client } from "openapi-fetch";
import type { components, paths } from "./generated/edge-api.d.ts";
import { problemFrom } from "./problem.ts";
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from "./retry.ts";
import { createSealingKey } from "./seal.ts";
import { resilientFetch } from "./transport.ts";

export type Schemas = components["schemas"];
type Method = "get" | "post" | "put" | "patch" | "delete";
type Operation<P extends keyof paths, M extends Method> = NonNullable<paths[P][M]>;
/** The JSON body an operation takes. */
export type BodyOf<P extends keyof paths, M extends Method> =
  Operation<P, M> extends { requestBody?: { content: { "application/json": infer B } } } ? B : never;
/** The query an operation takes. */
export type QueryOf<P extends keyof paths, M extends Method> =
  Operation<P, M> extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;

export interface ClientOptions {
  /** The edge, e.g. `http://127.0.0.1:8787`. */
  baseUrl: string;
  /** A bearer token (`cc_…`), or the admin token for `tokens.*`. */
  token?: string;
  /** Sent as `X-ChittyID`; the edge refuses it unless it is the token's owner. */
  chittyId?: string;
  /** Each attempt's limit (default 30 000). */
  timeoutMs?: number;
  /** Retries after the first attempt (default 2); see `resilientFetch` for what is retried. */
  retries?: number;
  retryPolicy?: Partial<Omit<RetryPolicy, "retries">>;
  fetch?: typeof globalThis.fetch;
  onRetry?: (info: { attempt: number; delayMs: number; status?: number }) => void;
}

export interface CredentialRequest {
  service: string;
  /** `vault/item/field`, by title. */
  credentialPath: string;
  /** Recorded in the audit log, never trusted. */
  purpose: string;
  /** Default true: the value is encrypted to a key pair made for this call and opened here. */
  seal?: boolean;
  /** Default: a fresh UUID, so this call's own retries are safe. */
  idempotencyKey?: string;
}

/** A credential as the caller uses it: the value in the clear, whether it travelled sealed or not. */
export interface Credential {
  credentialPath: string;
  value: string;
  sealed: boolean;
  lease: { id: string; issuedAt: string; expiresAt: string };
  version?: number;
  replayed?: boolean;
}

type Result = { data?: unknown; error?: unknown; response: Response };

/** The data of a successful answer; any other answer as a `ChittyProblemError`. */
async function ok<R extends Result>(pending: Promise<R>): Promise<Exclude<R["data"], undefined>> {
  const { data, error, response } = await pending;
  if (!response.ok) throw problemFrom(response, error);
  return data as Exclude<R["data"], undefined>;
}

/** For answers without a body (204). */
async function done(pending: Promise<Result>): Promise<void> {
  const { error, response } = await pending;
  if (!response.ok) throw problemFrom(response, error);
}

/**
 * A typed client for the edge API. Every path is reachable, typed, through `raw` (openapi-fetch over the
 * types generated from the edge's OpenAPI document); the named methods add sealing, idempotency keys
 * and problem errors.
 *
 * @example
 * const edge = createClient({ baseUrl: "http://127.0.0.1:8787", token: process.env.TOKEN });
 * const { value } = await edge.credentials.provision({ service: "chittyid",
 *   credentialPath: "services/chittyid/service_token", purpose: "deploy" });
 */
export function createClient(options: ClientOptions) {
  const transport = resilientFetch({
    timeoutMs: options.timeoutMs ?? 30_000,
    retry: {
      ...DEFAULT_RETRY_POLICY,
      ...options.retryPolicy,
      retries: options.retries ?? DEFAULT_RETRY_POLICY.retries,
    },
    fetch: options.fetch ?? globalThis.fetch,
    ...(options.onRetry ? { onRetry: options.onRetry } : {}),
  });
  const raw: Client<paths> = createFetchClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ""),
    fetch: transport,
    headers: {
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...(options.chittyId ? { "x-chittyid": options.chittyId } : {}),
    },
  });

  async function credential(action: "provision" | "rotate", request: CredentialRequest): Promise<Credential> {
    const seal = request.seal ?? true;
    const key = seal ? await createSealingKey() : undefined;
    const body = {
      service: request.service,
      credentialPath: request.credentialPath,
      purpose: request.purpose,
      ...(key ? { recipientPublicKey: key.publicJwk } : {}),
    };
    const params = { header: { "Idempotency-Key": request.idempotencyKey ?? crypto.randomUUID() } };
    const answer =
      action === "provision"
        ? await ok(raw.POST("/api/v1/credentials/provision", { body, params }))
        : await ok(raw.POST("/api/v1/credentials/rotate", { body, params }));
    const value = answer.sealed ? await openWith(key, answer.jwe) : answer.value;
    return {
      credentialPath: answer.credentialPath,
      value,
      sealed: answer.sealed,
      lease: answer.lease,
      ...(answer.version !== undefined ? { version: answer.version } : {}),
      ...(answer.replayed ? { replayed: true } : {}),
    };
  }

  return {
    raw,
    health: () => ok(raw.GET("/health")),
    status: () => ok(raw.GET("/api/v1/status")),
    openapi: () => ok(raw.GET("/api/v1/openapi.json")),
    credentials: {
      /** The value of `vault/item/field`, sealed to a one-use key pair unless `seal: false`. */
      provision: (request: CredentialRequest) => credential("provision", request),
      /** A new value generated by 1Password; retried safely under one `Idempotency-Key`. */
      rotate: (request: CredentialRequest) => credential("rotate", request),
      audit: (query: QueryOf<"/api/v1/credentials/audit", "get"> = {}) =>
        ok(raw.GET("/api/v1/credentials/audit", { params: { query } })),
    },
    tokens: {
      mint: (body: BodyOf<"/api/v1/admin/tokens", "post">) => ok(raw.POST("/api/v1/admin/tokens", { body })),
      list: (query: QueryOf<"/api/v1/admin/tokens", "get"> = {}) =>
        ok(raw.GET("/api/v1/admin/tokens", { params: { query } })),
      revoke: (id: string) => done(raw.DELETE("/api/v1/admin/tokens/{id}", { params: { path: { id } } })),
    },
    sessions: {
      create: (body: BodyOf<"/api/v1/sessions", "post"> = {}) => ok(raw.POST("/api/v1/sessions", { body })),
      list: (query: QueryOf<"/api/v1/sessions", "get"> = {}) =>
        ok(raw.GET("/api/v1/sessions", { params: { query } })),
      get: (id: string) => ok(raw.GET("/api/v1/sessions/{id}", { params: { path: { id } } })),
      update: (id: string, body: BodyOf<"/api/v1/sessions/{id}", "patch">, ifMatch?: string) =>
        ok(
          raw.PATCH("/api/v1/sessions/{id}", {
            params: { path: { id }, ...(ifMatch ? { header: { "If-Match": ifMatch } } : {}) },
            body,
          }),
        ),
      delete: (id: string) => done(raw.DELETE("/api/v1/sessions/{id}", { params: { path: { id } } })),
      addMessage: (id: string, body: BodyOf<"/api/v1/sessions/{id}/messages", "post">) =>
        ok(raw.POST("/api/v1/sessions/{id}/messages", { params: { path: { id } }, body })),
      messages: (id: string, query: QueryOf<"/api/v1/sessions/{id}/messages", "get"> = {}) =>
        ok(raw.GET("/api/v1/sessions/{id}/messages", { params: { path: { id }, query } })),
      export: () => ok(raw.GET("/api/v1/sessions/export")),
      wsTicket: (body: BodyOf<"/api/v1/sessions/ws-ticket", "post"> = {}) =>
        ok(raw.POST("/api/v1/sessions/ws-ticket", { body })),
    },
    context: {
      set: (key: string, value: BodyOf<"/api/v1/context/{key}", "put">["value"]) =>
        ok(raw.PUT("/api/v1/context/{key}", { params: { path: { key } }, body: { value } })),
      get: (key: string) => ok(raw.GET("/api/v1/context/{key}", { params: { path: { key } } })),
      list: (query: QueryOf<"/api/v1/context", "get"> = {}) =>
        ok(raw.GET("/api/v1/context", { params: { query } })),
      delete: (key: string) => done(raw.DELETE("/api/v1/context/{key}", { params: { path: { key } } })),
    },
    decisions: {
      add: (body: BodyOf<"/api/v1/decisions", "post">) => ok(raw.POST("/api/v1/decisions", { body })),
      list: (query: QueryOf<"/api/v1/decisions", "get"> = {}) =>
        ok(raw.GET("/api/v1/decisions", { params: { query } })),
    },
    documents: {
      search: (query: QueryOf<"/api/v1/documents", "get"> = {}) =>
        ok(raw.GET("/api/v1/documents", { params: { query } })),
      stats: () => ok(raw.GET("/api/v1/documents/stats")),
      get: (id: string) => ok(raw.GET("/api/v1/documents/{id}", { params: { path: { id } } })),
      update: (id: string, body: BodyOf<"/api/v1/documents/{id}", "patch">) =>
        ok(raw.PATCH("/api/v1/documents/{id}", { params: { path: { id } }, body })),
      delete: (id: string) => done(raw.DELETE("/api/v1/documents/{id}", { params: { path: { id } } })),
      versions: (id: string) => ok(raw.GET("/api/v1/documents/{id}/versions", { params: { path: { id } } })),
      /**
       * A version's bytes as an unread `Response`, for streaming or saving: 200, 206 for `range`
       * (`bytes=0-1023`), 304 for an `ifNoneMatch` that still holds. Any other answer is thrown.
       */
      download: async (
        id: string,
        options: { version?: number; range?: string; ifNoneMatch?: string } = {},
      ): Promise<Response> => {
        const { error, response } = await raw.GET("/api/v1/documents/{id}/download", {
          params: {
            path: { id },
            query: options.version === undefined ? {} : { version: options.version },
            header: {
              ...(options.range ? { Range: options.range } : {}),
              ...(options.ifNoneMatch ? { "If-None-Match": options.ifNoneMatch } : {}),
            },
          },
          parseAs: "stream",
        });
        if (!response.ok && response.status !== 304) throw problemFrom(response, error);
        return response;
      },
      presign: (id: string, body: BodyOf<"/api/v1/documents/{id}/presign", "post">) =>
        ok(raw.POST("/api/v1/documents/{id}/presign", { params: { path: { id } }, body })),
      /** A multipart upload of one file (`file` as a Blob; `metadata` as an object, `tags` as a list). */
      upload: (input: {
        file: Blob;
        name?: string;
        type: "evidence" | "cases" | "attachments";
        metadata?: Record<string, unknown>;
        tags?: string[];
      }) => {
        const form = new FormData();
        form.set("type", input.type);
        if (input.name) form.set("name", input.name);
        if (input.metadata) form.set("metadata", JSON.stringify(input.metadata));
        if (input.tags) form.set("tags", input.tags.join(","));
        // The edge streams the file to storage as it arrives, so it must be the form's last part.
        form.set(
          "file",
          input.file,
          input.name ?? (input.file instanceof File ? input.file.name : "upload.bin"),
        );
        return ok(
          raw.POST("/api/v1/documents/upload", {
            // openapi-fetch types multipart fields as strings; the form is sent as built.
            body: form as unknown as BodyOf<"/api/v1/documents/upload", "post">,
            bodySerializer: (body: unknown) => body as FormData,
          }),
        );
      },
    },
  };
}

export type ChittyClient = ReturnType<typeof createClient>;

async function openWith(key: Awaited<ReturnType<typeof createSealingKey>> | undefined, jwe: string) {
  if (!key) throw new Error("the edge answered sealed to a request that sent no key");
  return key.open(jwe);
}
