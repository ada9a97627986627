import { createHash } from "node:crypto";
import { ProblemError } from "@chittyconnect/contract";
import { errorFields, type FieldLogger } from "../logger.ts";
import { type IdempotencyScope, type IdempotencyStore, IdempotencyStoreFullError } from "./store.ts";

/** A claimed key (the caller does the work) or a replay of a finished one. */
export interface IdempotencyTicket extends IdempotencyScope {
  replay: boolean;
}

/** JSON with members sorted and undefined ones dropped: one text per request, whatever the key order. */
function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const members = Object.entries(value as Record<string, unknown>)
    .filter(([, member]) => member !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, member]) => `${JSON.stringify(key)}:${canonicalJson(member)}`);
  return `{${members.join(",")}}`;
}

/** SHA-256 over the request's canonical JSON (action included, key excluded): what "the same body" means. */
export function requestFingerprint(request: object): string {
  return createHash("sha256").update(canonicalJson(request)).digest("hex");
}

const unavailable = (detail: string) =>
  new ProblemError({
    status: 503,
    code: "idempotency_unavailable",
    title: "Idempotency store unavailable",
    detail,
    headers: { "retry-after": "30" },
  });

/**
 * Turns the store's answers into what the client gets: a replay, 422 for a key reused with
 * another body, 409 while the first request with the key runs, 503 when the store cannot answer.
 */
export class IdempotencyGate {
  readonly #store: IdempotencyStore;
  readonly #logger: FieldLogger;

  constructor(store: IdempotencyStore, logger: FieldLogger) {
    this.#store = store;
    this.#logger = logger;
  }

  claim(scope: IdempotencyScope, request: object): IdempotencyTicket {
    let claim: ReturnType<IdempotencyStore["claim"]>;
    try {
      claim = this.#store.claim(scope, requestFingerprint(request));
    } catch (error) {
      if (error instanceof IdempotencyStoreFullError) {
        this.#logger.error("idempotency store full; keyed requests are refused until keys expire");
        throw unavailable("Too many Idempotency-Keys are remembered right now; retry later.");
      }
      this.#logger.error(errorFields(error), "idempotency store failed");
      throw unavailable("The Idempotency-Key could not be checked; retry later.");
    }
    switch (claim.kind) {
      case "claimed":
        return { ...scope, replay: false };
      case "replay":
        return { ...scope, replay: true };
      case "mismatch":
        throw new ProblemError({
          status: 422,
          code: "idempotency_key_reused",
          title: "Idempotency-Key reused",
          detail: "This Idempotency-Key was used for a different request; send a new key for a new request.",
        });
      case "in_progress":
        throw new ProblemError({
          status: 409,
          code: "idempotency_key_in_use",
          title: "Request in progress",
          detail: "The first request with this Idempotency-Key is still running; retry shortly.",
          headers: { "retry-after": "1" },
        });
    }
  }

  /** The work of a claimed key succeeded; retries replay it from now on. Never throws. */
  complete(ticket: IdempotencyTicket, version: number | undefined): void {
    if (ticket.replay) return;
    this.#quietly("complete", () => this.#store.complete(ticket, version));
  }

  /** The work of a claimed key failed; a retry may do it again. Never throws. */
  release(ticket: IdempotencyTicket): void {
    if (ticket.replay) return;
    this.#quietly("release", () => this.#store.release(ticket));
  }

  close(): void {
    this.#store.close();
  }

  // The credential was already read or rotated: failing the answer now would only lose it. A key
  // left pending frees itself after PENDING_STALE_MS.
  #quietly(operation: string, run: () => void): void {
    try {
      run();
    } catch (error) {
      this.#logger.error({ operation, ...errorFields(error) }, "idempotency store write failed");
    }
  }
}
