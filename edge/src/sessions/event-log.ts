import { LIMITS } from "./limits.ts";
import type { PendingEvent } from "./owner-sessions.ts";
import type { SessionEvent } from "./schemas.ts";

export interface LoggedEvent {
  event: SessionEvent;
  sessionId: string | null;
}

interface EventRow extends Record<string, SqlStorageValue> {
  seq: number;
  type: string;
  data: string;
  session_id: string | null;
  at: number;
}

const toLogged = (row: EventRow): LoggedEvent => ({
  event: {
    type: row.type as SessionEvent["type"],
    data: JSON.parse(row.data) as SessionEvent["data"],
    at: new Date(row.at).toISOString(),
    seq: row.seq,
  },
  sessionId: row.session_id,
});

/** The owner's recent events in the object's SQLite, numbered, for `?since=` replay. */
export class EventLog {
  readonly #sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  append(events: PendingEvent[], now: number): LoggedEvent[] {
    const logged = events.map((e) => {
      const row = this.#sql
        .exec<EventRow>(
          "INSERT INTO events (type, data, session_id, at) VALUES (?, ?, ?, ?) RETURNING *",
          e.type,
          JSON.stringify(e.data),
          e.sessionId,
          now,
        )
        .one();
      return toLogged(row);
    });
    const newest = logged.at(-1)?.event.seq;
    if (newest !== undefined)
      this.#sql.exec("DELETE FROM events WHERE seq <= ?", newest - LIMITS.eventBacklog);
    return logged;
  }

  latestSeq(): number {
    return this.#sql.exec<{ seq: number | null }>("SELECT MAX(seq) AS seq FROM events").one().seq ?? 0;
  }

  /**
   * What a client that last saw `since` missed. `complete` is false when older events were already
   * dropped (or `since` is from the future, e.g. after a restore), so the client must refetch.
   */
  since(since: number): { events: LoggedEvent[]; complete: boolean } {
    const latest = this.latestSeq();
    const oldest = this.#sql.exec<{ seq: number | null }>("SELECT MIN(seq) AS seq FROM events").one().seq;
    const events = this.#sql
      .exec<EventRow>("SELECT * FROM events WHERE seq > ? ORDER BY seq", since)
      .toArray();
    const dropped = since < latest && (oldest === null || oldest > since + 1);
    return { events: events.map(toLogged), complete: since <= latest && !dropped };
  }
}
