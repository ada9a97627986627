import type { DocumentConfig } from "./config.ts";
import { quotaExceeded } from "./problems.ts";

export interface QuotaUsage {
  bytesUsed: number;
  bytesLimit: number;
  countUsed: number;
  countLimit: number;
}

/**
 * Per-owner byte and count limits. A reservation is one conditional UPDATE, so concurrent uploads
 * are serialised by D1 and can never overshoot; callers release exactly what they reserved.
 */
export class QuotaLedger {
  readonly #db: D1Database;
  readonly #config: DocumentConfig;

  constructor(db: D1Database, config: DocumentConfig) {
    this.#db = db;
    this.#config = config;
  }

  /** The statements that reserve; the second one's `changes` is 1 on success. */
  reserveStatements(owner: string, bytes: number, count: number, now: string): D1PreparedStatement[] {
    return [
      this.#db
        .prepare("INSERT OR IGNORE INTO storage_quotas (owner, updated_at) VALUES (?1, ?2)")
        .bind(owner, now),
      this.#db
        .prepare(
          `UPDATE storage_quotas
             SET bytes_used = bytes_used + ?2, document_count = document_count + ?3, updated_at = ?6
           WHERE owner = ?1
             AND bytes_used + ?2 <= coalesce(bytes_limit, ?4)
             AND document_count + ?3 <= coalesce(count_limit, ?5)`,
        )
        .bind(owner, bytes, count, this.#config.quotaBytes, this.#config.quotaCount, now),
    ];
  }

  releaseStatement(owner: string, bytes: number, count: number, now: string): D1PreparedStatement {
    return this.#db
      .prepare(
        `UPDATE storage_quotas
           SET bytes_used = max(0, bytes_used - ?2), document_count = max(0, document_count - ?3), updated_at = ?4
         WHERE owner = ?1`,
      )
      .bind(owner, bytes, count, now);
  }

  /** Names the limit that refused a reservation. */
  async refusal(owner: string, bytes: number): Promise<Error> {
    const usage = await this.usage(owner);
    return quotaExceeded(usage.bytesUsed + bytes > usage.bytesLimit ? "bytes" : "count");
  }

  async usage(owner: string): Promise<QuotaUsage> {
    const row = await this.#db
      .prepare(
        "SELECT bytes_used, document_count, bytes_limit, count_limit FROM storage_quotas WHERE owner = ?",
      )
      .bind(owner)
      .first<{
        bytes_used: number;
        document_count: number;
        bytes_limit: number | null;
        count_limit: number | null;
      }>();
    return {
      bytesUsed: row?.bytes_used ?? 0,
      bytesLimit: row?.bytes_limit ?? this.#config.quotaBytes,
      countUsed: row?.document_count ?? 0,
      countLimit: row?.count_limit ?? this.#config.quotaCount,
    };
  }
}
