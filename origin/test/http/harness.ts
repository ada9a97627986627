import {
  type AuditEntry,
  type AuditListResponse,
  type AuditQuery,
  type CredentialResponse,
  type OriginReadiness,
  ProblemError,
  type ProvisionRequest,
} from "@chittyconnect/contract";
import { type OriginConfig, parseOriginConfig } from "../../src/config.ts";
import type { CredentialCaller, CredentialService } from "../../src/credentials/service.ts";
import { createLogger, type Logger } from "../../src/logger.ts";
import { type RunningOrigin, startOrigin } from "../../src/server.ts";

export const SIGNING_SECRET = "edge-signing-secret-for-tests-0123456789";
export const PREVIOUS_SECRET = "edge-signing-secret-being-rotated-out-987654";
export const OWNER = "01-C-TEST-0001-P-2501-A-X";

export function testConfig(env: Record<string, string> = {}): OriginConfig {
  const parsed = parseOriginConfig({
    OP_CONNECT_HOST: "http://127.0.0.1:9",
    OP_CONNECT_TOKEN: "connect-token-for-tests",
    EDGE_SIGNING_KEY: SIGNING_SECRET,
    AUDIT_HMAC_KEY: "audit-hmac-key-for-tests-0123456789abcdef",
    AUDIT_CHAIN_KEY: "audit-chain-key-for-tests-0123456789abcdef",
    HOST: "127.0.0.1",
    PORT: "0",
    LOG_LEVEL: "info",
    MAX_BODY_BYTES: "2048",
    // One clock signs and verifies here; the start-up refusal is tested with its own value.
    CLOCK_SKEW_MS: "0",
    ...env,
  });
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.config;
}

/** A logger whose JSON lines tests can inspect. */
export function captureLogger(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const raw: string[] = [];
  const logger = createLogger({ level: "debug", destination: { write: (line: string) => raw.push(line) } });
  return { logger, lines: () => raw.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

const KNOWN_PATH = "services/chittyid/service_token";

/**
 * An in-memory CredentialService so these tests exercise the HTTP layer alone: one known path,
 * a value that changes on rotation, and an audit list per owner.
 */
export class InMemoryCredentials implements CredentialService {
  value = "initial-secret-value";
  version = 1;
  ready = true;
  failure: Error | undefined;
  closed = false;
  warmed = false;
  readonly entries: AuditEntry[] = [];
  /** Every caller the HTTP layer handed over, so tests can see what was authenticated. */
  readonly callers: CredentialCaller[] = [];

  async provision(caller: CredentialCaller, request: ProvisionRequest): Promise<CredentialResponse> {
    this.callers.push(caller);
    return this.#issue(caller, request, "provision");
  }

  async rotate(caller: CredentialCaller, request: ProvisionRequest): Promise<CredentialResponse> {
    this.value = `rotated-${crypto.randomUUID()}`;
    this.version += 1;
    return this.#issue(caller, request, "rotate");
  }

  async audit(owner: string, query: AuditQuery): Promise<AuditListResponse> {
    const mine = this.entries
      .filter((entry) => entry.owner === owner && (query.before === undefined || entry.seq < query.before))
      .reverse();
    return { entries: mine.slice(0, query.limit) };
  }

  async readiness(): Promise<OriginReadiness> {
    return {
      status: this.ready ? "ready" : "unready",
      connect: { reachable: this.ready, synced: this.ready, latencyMs: 1 },
    };
  }

  async warmUp(): Promise<void> {
    this.warmed = true;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  #issue(
    caller: CredentialCaller,
    request: ProvisionRequest,
    action: "provision" | "rotate",
  ): CredentialResponse {
    if (this.failure) throw this.failure;
    if (request.credentialPath !== KNOWN_PATH) {
      throw new ProblemError({ status: 404, code: "credential_not_found", title: "Credential not found" });
    }
    const now = new Date();
    const lease = {
      id: crypto.randomUUID(),
      issuedAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + 900_000).toISOString(),
    };
    this.entries.push({
      seq: this.entries.length + 1,
      at: lease.issuedAt,
      requestId: caller.requestId,
      owner: caller.owner,
      service: request.service,
      action,
      credentialPath: request.credentialPath,
      purpose: request.purpose,
      outcome: "allowed",
      sealed: false,
      leaseId: lease.id,
      prevHash: "0".repeat(64),
      hash: "0".repeat(64),
    });
    return {
      credentialPath: request.credentialPath,
      sealed: false,
      value: this.value,
      lease,
      version: this.version,
    };
  }
}

export const PROVISION_BODY = {
  service: "chittyid",
  credentialPath: KNOWN_PATH,
  purpose: "integration test",
};

export interface TestOrigin extends RunningOrigin {
  credentials: InMemoryCredentials;
  logs: () => Record<string, unknown>[];
}

export async function startTestOrigin(env: Record<string, string> = {}): Promise<TestOrigin> {
  const credentials = new InMemoryCredentials();
  const { logger, lines } = captureLogger();
  const origin = await startOrigin({ config: testConfig(env), logger, credentials });
  return { ...origin, credentials, logs: lines };
}
