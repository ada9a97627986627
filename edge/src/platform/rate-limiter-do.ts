import { DurableObject } from "cloudflare:workers";
import type { EdgeBindings } from "../env.ts";
import { USAGE_RETENTION_DAYS, UsageLedger, type UsageRow, utcDay } from "../usage/ledger.ts";
import type { RouteClass } from "./route-class.ts";
import { type Decision, SlidingWindowLimiter } from "./sliding-window.ts";

/** Every limit is per minute. */
export const WINDOW_MS = 60_000;
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The rate limit of one key (`owner:<owner>` or `ip:<address>`) and, for owners, their usage ledger.
 * A Durable Object runs one call at a time, so each decision sees every earlier one: the limit is
 * exact, unlike the Workers rate-limit binding, which counts per location and approximately.
 * Every allowed request is also written to SQLite (one INSERT) so that an evicted or restarted
 * object still knows the last minute; an alarm deletes what left the window.
 */
export class RateLimiterDO extends DurableObject<EdgeBindings> {
  readonly #limiter = new SlidingWindowLimiter();
  readonly #ledger: UsageLedger;
  #alarmAt: number | null = null;

  constructor(ctx: DurableObjectState, env: EdgeBindings) {
    super(ctx, env);
    const { sql } = ctx.storage;
    sql.exec("CREATE TABLE IF NOT EXISTS hits (route_class TEXT NOT NULL, at INTEGER NOT NULL)");
    sql.exec("CREATE INDEX IF NOT EXISTS hits_by_time ON hits (at)");
    this.#ledger = new UsageLedger(sql);
    const since = Date.now() - WINDOW_MS;
    for (const row of sql.exec<{ route_class: string; at: number }>(
      "SELECT route_class, at FROM hits WHERE at > ? ORDER BY at",
      since,
    )) {
      this.#limiter.restore(row.route_class, row.at);
    }
    void ctx.blockConcurrencyWhile(async () => {
      this.#alarmAt = await ctx.storage.getAlarm();
    });
  }

  /** Decides one request of `routeClass` against `limit` per minute, and counts it when allowed. */
  async take(routeClass: RouteClass, limit: number): Promise<Decision> {
    const now = Date.now();
    const decision = this.#limiter.take(routeClass, limit, WINDOW_MS, now);
    if (decision.allowed) {
      this.ctx.storage.sql.exec("INSERT INTO hits (route_class, at) VALUES (?, ?)", routeClass, now);
      if (this.#alarmAt === null) {
        this.#alarmAt = now + WINDOW_MS;
        await this.ctx.storage.setAlarm(this.#alarmAt);
      }
    }
    return decision;
  }

  /** Adds a batch of summed usage rows (edge/src/usage/batch.ts), all or none. */
  async record(rows: UsageRow[]): Promise<void> {
    this.ctx.storage.transactionSync(() => this.#ledger.add(rows));
  }

  async usage(from: string, to: string): Promise<UsageRow[]> {
    return this.#ledger.range(from, to);
  }

  override async alarm(): Promise<void> {
    const now = Date.now();
    this.ctx.storage.sql.exec("DELETE FROM hits WHERE at <= ?", now - WINDOW_MS);
    this.#ledger.prune(utcDay(now - USAGE_RETENTION_DAYS * DAY_MS));
    const next = this.#limiter.expireAll(WINDOW_MS, now);
    this.#alarmAt = next ?? null;
    if (next !== undefined) await this.ctx.storage.setAlarm(next);
  }
}
