import { randomUUID } from "node:crypto";
import {
  type AuditListResponse,
  type AuditQuery,
  type CredentialResponse,
  type OriginCredentialRequest,
  type OriginReadiness,
  OwnerIdSchema,
  ProblemError,
  parseCredentialPath,
} from "@chittyconnect/contract";
import { AuditDiskFullError } from "../audit/disk.ts";
import { valueHmac } from "../audit/entry.ts";
import type { AuditLog } from "../audit/log.ts";
import type { AuditSink } from "../audit/sink.ts";
import { openAuditTrail } from "../audit/trail.ts";
import type { OriginConfig } from "../config.ts";
import { IdempotencyGate, type IdempotencyTicket } from "../idempotency/gate.ts";
import { IdempotencyStore, idempotencyDbFile } from "../idempotency/store.ts";
import { errorFields, type FieldLogger } from "../logger.ts";
import type { OriginMetrics } from "../metrics.ts";
import { evaluatePolicy, type PolicyAction } from "../policy/evaluate.ts";
import { loadPolicyFile } from "../policy/load.ts";
import type { Policy } from "../policy/schema.ts";
import { CredentialBroker, type CredentialValue } from "./broker.ts";
import { importRecipientKey, type SealingKey, sealValue } from "./seal.ts";

export interface CredentialCaller {
  owner: string;
  /** The services the caller's token is bound to, as the edge signed them. */
  services: readonly string[];
  requestId: string;
}

export interface CredentialService {
  provision(caller: CredentialCaller, request: OriginCredentialRequest): Promise<CredentialResponse>;
  rotate(caller: CredentialCaller, request: OriginCredentialRequest): Promise<CredentialResponse>;
  audit(owner: string, query: AuditQuery): Promise<AuditListResponse>;
  readiness(): Promise<OriginReadiness>;
  /** Connect does not start syncing until its first authenticated request: call at boot. Never throws; logs. */
  warmUp(): Promise<void>;
  close(): Promise<void>;
}

/** Test seams; production passes none and gets the policy file, the audit file and the clock. */
export interface CredentialServiceOverrides {
  policy?: Policy;
  auditSink?: AuditSink;
  now?: () => Date;
}

/** Loads the policy (throws naming the file on a bad one) and opens the audit log, then serves. */
export async function createCredentialService(
  config: OriginConfig,
  deps: { logger: FieldLogger; metrics: OriginMetrics },
  overrides: CredentialServiceOverrides = {},
): Promise<CredentialService> {
  const policy = overrides.policy ?? loadPolicyFile(config.POLICY_FILE);
  const now = overrides.now ?? (() => new Date());
  const trail = await openAuditTrail(config, deps.logger, {
    now,
    ...(overrides.auditSink ? { sink: overrides.auditSink } : {}),
  });
  const log = trail.log;
  const broker = new CredentialBroker({
    host: config.OP_CONNECT_HOST,
    token: config.OP_CONNECT_TOKEN,
    timeoutMs: config.CONNECT_TIMEOUT_MS,
    titleCacheTtlSeconds: config.TITLE_CACHE_TTL_SECONDS,
    metrics: deps.metrics,
    logger: deps.logger,
  });
  const idempotency = new IdempotencyGate(
    IdempotencyStore.open(idempotencyDbFile(config), {
      ttlSeconds: config.IDEMPOTENCY_TTL_SECONDS,
      maxKeys: config.IDEMPOTENCY_MAX_KEYS,
      now: () => now().getTime(),
    }),
    deps.logger,
  );
  const handler = new CredentialHandler({ config, policy, log, broker, idempotency, now, ...deps });
  return {
    provision: (caller, request) => handler.handle("provision", caller, request),
    rotate: (caller, request) => handler.handle("rotate", caller, request),
    audit: (owner, query) =>
      log.list(owner, query).catch((error: unknown) => {
        throw auditUnavailable(error);
      }),
    readiness: () => broker.readiness(),
    warmUp: () => broker.warmUp(),
    close: async () => {
      await trail.close();
      idempotency.close();
    },
  };
}

// The cause is only told apart, never kept: a library error can carry a request and its secrets.
const auditUnavailable = (cause?: unknown) =>
  cause instanceof AuditDiskFullError
    ? new ProblemError({
        status: 503,
        code: "audit_disk_full",
        title: "Audit volume full",
        detail:
          "The audit log's volume is under its free-space reserve, so no new work is taken; retry later.",
        headers: { "retry-after": "60" },
      })
    : new ProblemError({
        status: 503,
        code: "audit_unavailable",
        title: "Audit log unavailable",
        detail: "The request could not be recorded, so it was not served; retry later.",
        headers: { "retry-after": "5" },
      });

const DENIALS = {
  service_not_granted: {
    reason: "the token is not bound to this service",
    problem: {
      code: "service_not_allowed",
      title: "Service not allowed",
      detail: "The token is not bound to the service this request names.",
    },
  },
  no_rule: {
    reason: "no policy rule allows this request",
    problem: {
      code: "policy_denied",
      title: "Denied by policy",
      detail: "No policy rule allows this owner, service, action, path and purpose.",
    },
  },
} as const;

interface HandlerDeps {
  config: OriginConfig;
  policy: Policy;
  log: AuditLog;
  broker: CredentialBroker;
  idempotency: IdempotencyGate;
  now: () => Date;
  logger: FieldLogger;
  metrics: OriginMetrics;
}

/**
 * One provision/rotate: policy, Idempotency-Key claim, recipient key, Connect, seal, lease, audit —
 * in that order. A request whose key already finished reads the current value instead of rotating.
 */
class CredentialHandler {
  readonly #deps: HandlerDeps;

  constructor(deps: HandlerDeps) {
    this.#deps = deps;
  }

  async handle(
    action: PolicyAction,
    caller: CredentialCaller,
    request: OriginCredentialRequest,
  ): Promise<CredentialResponse> {
    const { policy, broker, metrics, idempotency } = this.#deps;
    const { idempotencyKey, ...fields } = request;
    try {
      await this.#deps.log.ensureCapacity();
    } catch (error) {
      throw auditUnavailable(error);
    }
    const path = parseCredentialPath(request.credentialPath);
    if (!path || !OwnerIdSchema.safeParse(caller.owner).success) {
      throw new ProblemError({
        status: 400,
        code: "validation_failed",
        title: "Invalid request",
        detail: "The owner or credential path is malformed.",
      });
    }
    const base = {
      requestId: caller.requestId,
      owner: caller.owner,
      service: request.service,
      action,
      credentialPath: request.credentialPath,
      purpose: request.purpose,
      sealed: request.recipientPublicKey !== undefined,
      ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
    };
    const decision = evaluatePolicy(policy, {
      ...base,
      grantedServices: caller.services,
      path: request.credentialPath,
    });
    if (!decision.allowed) {
      const denial = DENIALS[decision.reason];
      await this.#record({ ...base, outcome: "denied", reason: denial.reason });
      metrics.credentialOutcomes.inc({ action, outcome: "denied" });
      throw new ProblemError({ status: 403, ...denial.problem });
    }

    const ticket: IdempotencyTicket | undefined =
      idempotencyKey === undefined
        ? undefined
        : idempotency.claim({ owner: caller.owner, key: idempotencyKey }, { action, ...fields });
    const replayed = ticket?.replay === true;

    let recipient: SealingKey | undefined;
    let credential: CredentialValue;
    let jwe: string | undefined;
    try {
      recipient = request.recipientPublicKey
        ? await importRecipientKey(request.recipientPublicKey)
        : undefined;
      // A replay re-reads the value Connect holds now: nothing secret is ever kept for it.
      credential = action === "rotate" && !replayed ? await broker.rotate(path) : await broker.read(path);
      // Recorded before sealing or auditing: from here on the rotation happened, so a retry must
      // replay it even if this answer never reaches the caller.
      if (ticket) idempotency.complete(ticket, credential.version);
      jwe = recipient ? await sealValue(credential.value, recipient) : undefined;
    } catch (error) {
      if (ticket) idempotency.release(ticket);
      const reason = error instanceof ProblemError ? error.code : "internal_error";
      await this.#record({ ...base, outcome: "failed", reason });
      metrics.credentialOutcomes.inc({ action, outcome: "failed" });
      throw error;
    }

    const issuedAt = this.#deps.now();
    const lease = {
      id: randomUUID(),
      issuedAt: issuedAt.toISOString(),
      expiresAt: new Date(issuedAt.getTime() + this.#deps.config.LEASE_TTL_SECONDS * 1000).toISOString(),
    };
    try {
      await this.#record({
        ...base,
        outcome: "allowed",
        ...(replayed ? { reason: "idempotent_replay" } : {}),
        leaseId: lease.id,
        valueHmac: valueHmac(this.#deps.config.AUDIT_HMAC_KEY, credential.value),
      });
    } catch (error) {
      if (action === "rotate") {
        this.#deps.logger.error(
          { requestId: caller.requestId, credentialPath: request.credentialPath },
          "credential was ROTATED but the audit line failed, so the new value was not delivered",
        );
      }
      throw error;
    }
    metrics.credentialOutcomes.inc({ action, outcome: "allowed" });
    const extra = {
      ...(credential.version === undefined ? {} : { version: credential.version }),
      ...(replayed ? { replayed: true as const } : {}),
    };
    return jwe === undefined
      ? { credentialPath: request.credentialPath, sealed: false, value: credential.value, lease, ...extra }
      : { credentialPath: request.credentialPath, sealed: true, jwe, lease, ...extra };
  }

  async #record(record: Parameters<AuditLog["append"]>[0]): Promise<void> {
    try {
      await this.#deps.log.append(record);
    } catch (error) {
      this.#deps.logger.error(
        { ...errorFields(error), requestId: record.requestId },
        "audit log write FAILED",
      );
      this.#deps.metrics.credentialOutcomes.inc({ action: record.action, outcome: "audit_failed" });
      throw auditUnavailable();
    }
  }
}
