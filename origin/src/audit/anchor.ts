import { type SigningKey, signRequest } from "@chittyconnect/contract";
import { z } from "zod";

/** The head of a chain: the last entry's seq and hash, for one origin instance. */
export interface ChainHead {
  instance: string;
  seq: number;
  hash: string;
}

/**
 * Origin → edge: the origin reports its chain head; the edge keeps the latest per instance in D1
 * and never lets it go backwards. Signed with the contract's edge scheme and the shared key; the
 * `/api/v1/internal/` path is the direction marker (edge → origin calls are all under `/v1/`), and
 * the owner header carries the instance the report is for.
 */
export const ANCHOR_PATH = "/api/v1/internal/audit-anchor";

export const AnchorSchema = z.object({
  instance: z.string(),
  seq: z.number().int().nonnegative(),
  hash: z.string(),
  reportedAt: z.string(),
});
export type Anchor = z.infer<typeof AnchorSchema>;

/** The edge holds a head this log does not contain: the tail was cut or the chain rewritten. */
export class AnchorConflictError extends Error {
  override readonly name = "AnchorConflictError";
  readonly anchor: Anchor | undefined;
  constructor(message: string, anchor?: Anchor) {
    super(message);
    this.anchor = anchor;
  }
}

export class AnchorClient {
  readonly #edgeUrl: string;
  readonly #key: SigningKey;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;

  /** `fetch` is replaced only where the edge is not behind a URL (its workerd tests). */
  constructor(options: { edgeUrl: string; key: SigningKey; timeoutMs: number; fetch?: typeof fetch }) {
    this.#edgeUrl = options.edgeUrl.replace(/\/+$/, "");
    this.#key = options.key;
    this.#timeoutMs = options.timeoutMs;
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
  }

  /** The edge's head for an instance, or undefined when it has none yet. */
  async fetch(instance: string): Promise<Anchor | undefined> {
    const response = await this.#send("GET", `${ANCHOR_PATH}/${encodeURIComponent(instance)}`, instance);
    if (response.status === 404) {
      await response.body?.cancel();
      return undefined;
    }
    return this.#anchorFrom(response, instance);
  }

  /** Reports a head; throws AnchorConflictError when the edge holds a later or different one. */
  async report(head: ChainHead, entryAt?: string): Promise<Anchor> {
    const body = JSON.stringify({
      instance: head.instance,
      seq: head.seq,
      hash: head.hash,
      ...(entryAt ? { entryAt } : {}),
    });
    const response = await this.#send("POST", ANCHOR_PATH, head.instance, body);
    return this.#anchorFrom(response, head.instance);
  }

  async #anchorFrom(response: Response, instance: string): Promise<Anchor> {
    const data: unknown = await response.json().catch(() => undefined);
    if (response.status === 409) {
      const held = AnchorSchema.safeParse((data as { anchor?: unknown } | undefined)?.anchor);
      throw new AnchorConflictError(
        `the edge holds a head for ${instance} that this log does not extend`,
        held.success ? held.data : undefined,
      );
    }
    const parsed = AnchorSchema.safeParse(data);
    if (response.status !== 200 || !parsed.success || parsed.data.instance !== instance) {
      throw new Error(`edge answered ${response.status} to the audit anchor call`);
    }
    return parsed.data;
  }

  async #send(method: "GET" | "POST", path: string, instance: string, body?: string): Promise<Response> {
    const url = `${this.#edgeUrl}${path}`;
    const headers = await signRequest({
      method,
      url,
      owner: instance,
      // An anchor report acts for no service.
      services: [],
      key: this.#key,
      ...(body ? { body } : {}),
    });
    return this.#fetch(url, {
      method,
      headers: body ? { ...headers, "content-type": "application/json" } : headers,
      ...(body ? { body } : {}),
      signal: AbortSignal.timeout(this.#timeoutMs),
    });
  }
}
