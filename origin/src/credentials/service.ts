import { randomUUID } from "node:crypto";
import {
  type AuditListResponse,
  type AuditQuery,
  type CredentialResponse,
  type OriginReadiness,
  OwnerIdSchema,
  ProblemError,
  type ProvisionRequest,
  parseCredentialPath,
  type RotateRequest,
} from "@chittyconnect/contract";
import type { Logger } from "pino";
import { AuditDiskFullError } from "../audit/disk.ts";
import { valueHmac } from "../audit/entry.ts";
import type { AuditLog } from "../audit/log.ts";
import type { AuditSink } from "../audit/sink.ts";
import { openAuditTrail } from "../audit/trail.ts";
import type { OriginConfig } from "../config.ts";
import type { OriginMetrics } from "../metrics.ts";
import { evaluatePolicy, type PolicyAction } from "../policy/evaluate.ts";
import { loadPolicyFile } from "../policy/load.ts";
import type { Policy } from "../policy/schema.ts";
import { CredentialBroker, type CredentialValue } from "./broker.ts";
import { importRecipientKey, type SealingKey, sealValue } from "./seal.ts";

export interface CredentialCaller {
  owner: string;
  requestId: string;
}

export interface CredentialService {
  provision(caller: CredentialCaller, request: ProvisionRequest): Promise<CredentialResponse>;
  rotate(caller: CredentialCaller, request: RotateRequest): Promise<CredentialResponse>;
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
  deps: { logger: Logger; metrics: OriginMetrics },
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
  const handler = new CredentialHandler({ config, policy, log, broker, now, ...deps });
  return {
    provision: (caller, request) => handler.handle("provision", caller, request),
    rotate: (caller, request) => handler.handle("rotate", caller, request),
    audit: (owner, query) =>
      log.list(owner, query).catch((error: unknown) => {
        throw auditUnavailable(error);
      }),
    readiness: () => broker.readiness(),
    warmUp: () => broker.warmUp(),
    close: () => trail.close(),
  };
}

const auditUnavailable = (cause: unknown) =>
  cause instanceof AuditDiskFullError
    ? new ProblemError({
        status: 503,
        code: "audit_disk_full",
        title: "Audit volume full",
        detail:
          "The audit log's volume is under its free-space reserve, so no new work is taken; retry later.",
        headers: { "retry-after": "60" },
        cause,
      })
    : new ProblemError({
        status: 503,
        code: "audit_unavailable",
        title: "Audit log unavailable",
        detail: "The request could not be recorded, so it was not served; retry later.",
        headers: { "retry-after": "5" },
        cause,
      });

interface HandlerDeps {
  config: OriginConfig;
  policy: Policy;
  log: AuditLog;
  broker: CredentialBroker;
  now: () => Date;
  logger: Logger;
  metrics: OriginMetrics;
}

/** One provision/rotate: policy, recipient key, Connect, seal, lease, audit — in that order. */
class CredentialHandler {
  readonly #deps: HandlerDeps;

  constructor(deps: HandlerDeps) {
    this.#deps = deps;
  }

  async handle(
    action: PolicyAction,
    caller: CredentialCaller,
    request: ProvisionRequest,
  ): Promise<CredentialResponse> {
    const { policy, broker, metrics } = this.#deps;
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
    };
    const decision = evaluatePolicy(policy, { ...base, path: request.credentialPath });
    if (!decision.allowed) {
      await this.#record({ ...base, outcome: "denied", reason: "no policy rule allows this request" });
      metrics.credentialOutcomes.inc({ action, outcome: "denied" });
      throw new ProblemError({
        status: 403,
        code: "policy_denied",
        title: "Denied by policy",
        detail: "No policy rule allows this owner, service, action, path and purpose.",
      });
    }

    let recipient: SealingKey | undefined;
    let credential: CredentialValue;
    let jwe: string | undefined;
    try {
      recipient = request.recipientPublicKey
        ? await importRecipientKey(request.recipientPublicKey)
        : undefined;
      credential = action === "rotate" ? await broker.rotate(path) : await broker.read(path);
      jwe = recipient ? await sealValue(credential.value, recipient) : undefined;
    } catch (error) {
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
    const version = credential.version === undefined ? {} : { version: credential.version };
    return jwe === undefined
      ? { credentialPath: request.credentialPath, sealed: false, value: credential.value, lease, ...version }
      : { credentialPath: request.credentialPath, sealed: true, jwe, lease, ...version };
  }

  async #record(record: Parameters<AuditLog["append"]>[0]): Promise<void> {
    try {
      await this.#deps.log.append(record);
    } catch (error) {
      this.#deps.logger.error({ err: error, requestId: record.requestId }, "audit log write FAILED");
      this.#deps.metrics.credentialOutcomes.inc({ action: record.action, outcome: "audit_failed" });
      throw auditUnavailable(error);
    }
  }
}
