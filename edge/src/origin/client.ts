import {
  type AuditListResponse,
  AuditListResponseSchema,
  type AuditQuery,
  type CredentialResponse,
  CredentialResponseSchema,
  Headers,
  importSigningKey,
  type OriginCredentialRequest,
  type OriginReadiness,
  OriginReadinessSchema,
  ProblemError,
  ProblemSchema,
  readStreamLimited,
  signRequest,
  utf8,
} from "@chittyconnect/contract";
import type { z } from "zod";
import { edgeConfig } from "../config.ts";
import type { EdgeBindings } from "../env.ts";

/** Origin answers are small JSON documents; anything bigger is a fault, not data. */
const MAX_ORIGIN_BODY_BYTES = 1024 * 1024;

export interface OriginFetcher {
  fetch(request: Request): Promise<Response>;
}

export interface OriginClientOptions {
  baseUrl: string;
  timeoutMs: number;
  signingSecret: string;
  /** The VPC service binding when configured; global fetch otherwise. */
  fetcher?: OriginFetcher | undefined;
  access?: { clientId: string; clientSecret: string } | undefined;
}

export interface CallContext {
  owner: string;
  /** The token's services, signed with the owner. */
  services: readonly string[];
  requestId: string;
}

function originFailure(status: 502 | 504, code: string, detail: string, cause?: unknown): ProblemError {
  return new ProblemError({
    status,
    code,
    title: status === 504 ? "Origin timeout" : "Bad gateway",
    detail,
    cause,
  });
}

/** Every edge → origin call goes through here: signing, Access headers, timeouts, error mapping. */
export class OriginClient {
  readonly #options: OriginClientOptions;

  constructor(options: OriginClientOptions) {
    this.#options = options;
  }

  /** Throws `edge_misconfigured` when the environment does not validate (see config.ts). */
  static fromEnv(env: EdgeBindings): OriginClient {
    const config = edgeConfig(env);
    const access =
      config.CF_ACCESS_CLIENT_ID && config.CF_ACCESS_CLIENT_SECRET
        ? { clientId: config.CF_ACCESS_CLIENT_ID, clientSecret: config.CF_ACCESS_CLIENT_SECRET }
        : undefined;
    return new OriginClient({
      baseUrl: config.ORIGIN_URL,
      timeoutMs: config.ORIGIN_TIMEOUT_MS,
      signingSecret: config.EDGE_SIGNING_KEY,
      fetcher: env.ORIGIN_VPC,
      access,
    });
  }

  provision(request: OriginCredentialRequest, ctx: CallContext): Promise<CredentialResponse> {
    return this.#signedJson("POST", "/v1/credentials/provision", ctx, CredentialResponseSchema, request);
  }

  rotate(request: OriginCredentialRequest, ctx: CallContext): Promise<CredentialResponse> {
    return this.#signedJson("POST", "/v1/credentials/rotate", ctx, CredentialResponseSchema, request);
  }

  audit(query: AuditQuery, ctx: CallContext): Promise<AuditListResponse> {
    const params = new URLSearchParams({ limit: String(query.limit) });
    if (query.before !== undefined) params.set("before", String(query.before));
    return this.#signedJson("GET", `/v1/audit?${params}`, ctx, AuditListResponseSchema);
  }

  /** The origin's /readyz; a 503 there still carries a readiness body, which is what we want. */
  async readiness(requestId: string): Promise<OriginReadiness> {
    const request = new Request(this.#url("/readyz"), {
      method: "GET",
      headers: this.#baseHeaders(requestId),
    });
    const { response, bytes } = await this.#exchange(request);
    if (response.status !== 200 && response.status !== 503) throw this.#mapError(response, bytes);
    return this.#parse(bytes, OriginReadinessSchema);
  }

  async #signedJson<T>(
    method: "GET" | "POST",
    pathWithQuery: string,
    ctx: CallContext,
    schema: z.ZodType<T>,
    payload?: unknown,
  ): Promise<T> {
    const url = this.#url(pathWithQuery);
    const body = payload === undefined ? undefined : utf8(JSON.stringify(payload));
    const key = await importSigningKey(this.#options.signingSecret);
    const signed = await signRequest({
      method,
      url,
      body: body ?? "",
      owner: ctx.owner,
      services: ctx.services,
      key,
    });
    const headers = { ...this.#baseHeaders(ctx.requestId), ...signed };
    if (body !== undefined) headers["content-type"] = "application/json";
    const { response, bytes } = await this.#exchange(
      new Request(url, { method, headers, body: body ?? null }),
    );
    if (!response.ok) throw this.#mapError(response, bytes);
    return this.#parse(bytes, schema);
  }

  #url(pathWithQuery: string): URL {
    return new URL(pathWithQuery, this.#options.baseUrl);
  }

  #baseHeaders(requestId: string): Record<string, string> {
    const headers: Record<string, string> = { accept: "application/json", [Headers.requestId]: requestId };
    if (this.#options.access) {
      headers[Headers.accessClientId] = this.#options.access.clientId;
      headers[Headers.accessClientSecret] = this.#options.access.clientSecret;
    }
    return headers;
  }

  /** Sends and reads the whole body under one deadline, so a stalled body also times out. */
  async #exchange(request: Request): Promise<{ response: Response; bytes: Uint8Array }> {
    const signal = AbortSignal.timeout(this.#options.timeoutMs);
    const send = this.#options.fetcher
      ? this.#options.fetcher.fetch(new Request(request, { signal }))
      : fetch(request, { signal });
    try {
      const response = await send;
      const bytes = await readStreamLimited(response.body, MAX_ORIGIN_BODY_BYTES);
      return { response, bytes };
    } catch (err) {
      if (err instanceof ProblemError) {
        throw originFailure(502, "origin_bad_response", "The origin answered with an oversized body.", err);
      }
      if (signal.aborted) {
        throw originFailure(504, "origin_timeout", "The origin did not answer in time.", err);
      }
      throw originFailure(502, "origin_unavailable", "The origin could not be reached.", err);
    }
  }

  #parse<T>(bytes: Uint8Array, schema: z.ZodType<T>): T {
    const result = schema.safeParse(decodeJson(bytes));
    if (!result.success) {
      throw originFailure(502, "origin_bad_response", "The origin answered with an unexpected body.");
    }
    return result.data;
  }

  /**
   * The origin's client errors are the caller's errors and pass through; its server errors become
   * 502 (keeping its code) except 503, whose Retry-After tells the caller when to come back.
   */
  #mapError(response: Response, bytes: Uint8Array): ProblemError {
    const problem = ProblemSchema.safeParse(decodeJson(bytes));
    const origin = problem.success ? problem.data : undefined;
    if (response.status >= 400 && response.status < 500 && origin) {
      return new ProblemError({
        status: response.status,
        code: origin.code ?? `origin_${response.status}`,
        title: origin.title,
        detail: origin.detail,
        errors: origin.errors,
      });
    }
    const retryAfter = response.headers.get("retry-after");
    if (response.status === 503) {
      return new ProblemError({
        status: 503,
        code: origin?.code ?? "origin_unavailable",
        title: origin?.title ?? "Service unavailable",
        detail: origin?.detail ?? "The origin is temporarily unavailable.",
        headers: retryAfter && /^\d{1,6}$/.test(retryAfter) ? { "retry-after": retryAfter } : {},
      });
    }
    if (response.status >= 500) {
      return new ProblemError({
        status: 502,
        code: origin?.code ?? "origin_error",
        title: "Bad gateway",
        detail: origin?.detail ?? `The origin failed with status ${response.status}.`,
      });
    }
    return originFailure(502, "origin_bad_response", `The origin answered with status ${response.status}.`);
  }
}

function decodeJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes));
  } catch {
    return undefined;
  }
}
