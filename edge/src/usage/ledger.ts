import type { RouteClass } from "../platform/route-class.ts";

/** One request as the usage middleware saw it; `day` is the UTC day it arrived (YYYY-MM-DD). */
export interface UsageEntry {
  day: string;
  routeClass: RouteClass;
  /** Refused by the rate limiter (it still counts as a request). */
  limited: boolean;
  bytesIn: number;
  bytesOut: number;
  /** A successful `POST /credentials/provision`. */
  credentialProvisioned: boolean;
}

/** One day and route class of one owner. */
export interface UsageRow {
  day: string;
  routeClass: RouteClass;
  requests: number;
  limited: number;
  bytesIn: number;
  bytesOut: number;
  credentialsProvisioned: number;
}

/** Daily buckets kept this long (the widest query asks for 366 days). */
export const USAGE_RETENTION_DAYS = 400;

export const USAGE_TABLE = `CREATE TABLE IF NOT EXISTS usage_daily (
  day TEXT NOT NULL, route_class TEXT NOT NULL,
  requests INTEGER NOT NULL, limited INTEGER NOT NULL, bytes_in INTEGER NOT NULL, bytes_out INTEGER NOT NULL,
  credentials_provisioned INTEGER NOT NULL,
  PRIMARY KEY (day, route_class)) WITHOUT ROWID`;

/**
 * One owner's daily counters in its object's SQLite. Each row is one UPSERT of increments; the object
 * runs one call at a time, so concurrent requests can never lose an increment.
 */
export class UsageLedger {
  readonly #sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
    sql.exec(USAGE_TABLE);
  }

  /** Adds summed rows (one per day and route class) in one transaction. */
  add(rows: readonly UsageRow[]): void {
    for (const row of rows) {
      this.#sql.exec(
        `INSERT INTO usage_daily (day, route_class, requests, limited, bytes_in, bytes_out, credentials_provisioned)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (day, route_class) DO UPDATE SET
           requests = requests + ?3, limited = limited + ?4, bytes_in = bytes_in + ?5,
           bytes_out = bytes_out + ?6, credentials_provisioned = credentials_provisioned + ?7`,
        row.day,
        row.routeClass,
        row.requests,
        row.limited,
        row.bytesIn,
        row.bytesOut,
        row.credentialsProvisioned,
      );
    }
  }

  /** Rows of the days from `from` to `to` inclusive, oldest first. */
  range(from: string, to: string): UsageRow[] {
    return this.#sql
      .exec<{
        day: string;
        route_class: RouteClass;
        requests: number;
        limited: number;
        bytes_in: number;
        bytes_out: number;
        credentials_provisioned: number;
      }>(
        `SELECT day, route_class, requests, limited, bytes_in, bytes_out, credentials_provisioned
         FROM usage_daily WHERE day >= ? AND day <= ? ORDER BY day, route_class`,
        from,
        to,
      )
      .toArray()
      .map((row) => ({
        day: row.day,
        routeClass: row.route_class,
        requests: row.requests,
        limited: row.limited,
        bytesIn: row.bytes_in,
        bytesOut: row.bytes_out,
        credentialsProvisioned: row.credentials_provisioned,
      }));
  }

  /** Drops days before `oldestKept` (YYYY-MM-DD). */
  prune(oldestKept: string): void {
    this.#sql.exec("DELETE FROM usage_daily WHERE day < ?", oldestKept);
  }
}

/** One entry as the row it adds to. */
export function entryRow(entry: UsageEntry): UsageRow {
  return {
    day: entry.day,
    routeClass: entry.routeClass,
    requests: 1,
    limited: entry.limited ? 1 : 0,
    bytesIn: entry.bytesIn,
    bytesOut: entry.bytesOut,
    credentialsProvisioned: entry.credentialProvisioned ? 1 : 0,
  };
}

/** The UTC day of `ms` as YYYY-MM-DD. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
