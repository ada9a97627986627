import { importSigningKey } from "@chittyconnect/contract";
import type { OriginConfig } from "../config.ts";
import type { FieldLogger } from "../logger.ts";
import { type Anchor, AnchorClient } from "./anchor.ts";
import { AnchorReporter } from "./anchor-reporter.ts";
import { readLogInstance } from "./chain.ts";
import { AuditLog } from "./log.ts";
import type { AuditSink } from "./sink.ts";

/** How long one anchor call may take; the report is retried, start-up only waits this once. */
const ANCHOR_TIMEOUT_MS = 5000;
const ANCHOR_RETRY_BASE_MS = 1000;
const ANCHOR_MAX_ATTEMPTS = 5;

export interface AuditTrail {
  log: AuditLog;
  close(): Promise<void>;
}

const errorKind = (error: unknown) => (error instanceof Error ? error.name : typeof error);

/**
 * Opens the audit log as configured: fetches the edge's anchor for this instance (when EDGE_URL is
 * set) so the start-up verification can see a cut tail, then reports the head on a schedule.
 * An unreachable edge does not stop the start; the reporter checks the anchor on its first call.
 */
export async function openAuditTrail(
  config: OriginConfig,
  logger: FieldLogger,
  overrides: { sink?: AuditSink; now?: () => Date; anchorRetryBaseMs?: number } = {},
): Promise<AuditTrail> {
  const base = config.AUDIT_LOG_FILE;
  const client = config.EDGE_URL
    ? new AnchorClient({
        edgeUrl: config.EDGE_URL,
        key: await importSigningKey(config.EDGE_SIGNING_KEY),
        timeoutMs: ANCHOR_TIMEOUT_MS,
      })
    : undefined;
  let anchor: Anchor | undefined;
  let reconciled = true;
  if (client) {
    const instance = config.AUDIT_INSTANCE_ID ?? (await readLogInstance(base, config.AUDIT_CHAIN_KEY));
    if (instance) {
      try {
        anchor = await client.fetch(instance);
      } catch (error) {
        reconciled = false;
        logger.warn(
          { instance, kind: errorKind(error) },
          "audit anchor unavailable at start; checking on first report",
        );
      }
    }
  }
  const started = performance.now();
  const log = await AuditLog.open({
    base,
    key: config.AUDIT_CHAIN_KEY,
    segmentBytes: config.AUDIT_SEGMENT_BYTES,
    diskReserveBytes: config.AUDIT_DISK_RESERVE_BYTES,
    instance: config.AUDIT_INSTANCE_ID,
    anchor,
    ...(overrides.now ? { now: overrides.now } : {}),
    ...(overrides.sink ? { sink: overrides.sink } : {}),
    onTornTail: (tail) =>
      logger.warn(
        { segment: tail.segment, bytes: tail.bytes },
        "cut off a partial last audit line (crash mid-write)",
      ),
  });
  const head = log.head();
  logger.info(
    {
      instance: head.instance,
      seq: head.seq,
      anchoredSeq: anchor?.seq,
      ms: Math.round(performance.now() - started),
    },
    "audit chain verified",
  );
  const reporter = client
    ? new AnchorReporter({
        log,
        client,
        intervalMs: config.AUDIT_ANCHOR_INTERVAL_SECONDS * 1000,
        everyEntries: config.AUDIT_ANCHOR_EVERY,
        retryBaseMs: overrides.anchorRetryBaseMs ?? ANCHOR_RETRY_BASE_MS,
        maxAttempts: ANCHOR_MAX_ATTEMPTS,
        reconciled,
        events: {
          reported: (a) =>
            logger.debug({ instance: a.instance, seq: a.seq }, "audit head anchored at the edge"),
          failed: (attempt, error) =>
            logger.warn({ attempt, kind: errorKind(error) }, "audit anchor report failed; retrying"),
          conflict: (error) =>
            logger.error(
              { instance: head.instance, anchoredSeq: error.anchor?.seq, seq: log.head().seq },
              "audit chain does NOT contain the head the edge anchored (tail cut or rewritten); refusing new work",
            ),
        },
      })
    : undefined;
  return {
    log,
    close: async () => {
      await reporter?.close();
      await log.close();
    },
  };
}
