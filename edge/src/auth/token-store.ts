import { fromBase64Url, TokenServicesSchema, toBase64Url, utf8 } from "@chittyconnect/contract";
import type { Scope } from "./scopes.ts";
import { ScopeListSchema } from "./scopes.ts";
import { generateToken, hashToken } from "./token-format.ts";

export interface TokenRecord {
  id: string;
  owner: string;
  scopes: Scope[];
  /** The services the token may act for; null when bound to none (see migration 0002). */
  services: string[] | null;
  label: string | null;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

export interface MintInput {
  owner: string;
  scopes: Scope[];
  services?: string[] | undefined;
  label?: string | undefined;
  expiresInSeconds?: number | undefined;
}

export interface TokenPage {
  tokens: TokenRecord[];
  nextCursor?: string;
}

interface TokenRow {
  id: string;
  owner: string;
  scopes: string;
  services: string | null;
  label: string | null;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
}

const COLUMNS = "id, owner, scopes, services, label, created_at, expires_at, revoked_at, last_used_at";
// last_used_at is a hint for operators; writing it on every request would make each call a D1 write.
const LAST_USED_GRANULARITY_MS = 60_000;

function toRecord(row: TokenRow): TokenRecord {
  const scopes = ScopeListSchema.safeParse(JSON.parse(row.scopes));
  return {
    id: row.id,
    owner: row.owner,
    // A row with unreadable scopes grants nothing rather than failing every request.
    scopes: scopes.success ? scopes.data : [],
    services: parseServices(row.services),
    label: row.label,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    lastUsedAt: row.last_used_at,
  };
}

/** A row with an unreadable list is bound to no service rather than to whatever it seems to say. */
function parseServices(text: string | null): string[] | null {
  if (text === null) return null;
  try {
    const parsed = TokenServicesSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** Keyset cursor over (created_at, id): stable under concurrent inserts, unlike an offset. */
export function encodeCursor(createdAt: string, id: string): string {
  return toBase64Url(utf8(JSON.stringify([createdAt, id])));
}

export function decodeCursor(cursor: string): { createdAt: string; id: string } | undefined {
  const bytes = fromBase64Url(cursor);
  if (!bytes) return undefined;
  try {
    const value: unknown = JSON.parse(new TextDecoder().decode(bytes));
    if (Array.isArray(value) && value.length === 2 && value.every((part) => typeof part === "string")) {
      return { createdAt: value[0] as string, id: value[1] as string };
    }
  } catch {
    return undefined;
  }
  return undefined;
}

export class TokenStore {
  readonly #db: D1Database;
  readonly #now: () => number;

  constructor(db: D1Database, now: () => number = Date.now) {
    this.#db = db;
    this.#now = now;
  }

  async mint(input: MintInput): Promise<{ token: string; record: TokenRecord }> {
    const token = generateToken();
    const now = this.#now();
    const record: TokenRecord = {
      id: `tok_${crypto.randomUUID()}`,
      owner: input.owner,
      scopes: input.scopes,
      services: input.services ?? null,
      label: input.label ?? null,
      createdAt: new Date(now).toISOString(),
      expiresAt:
        input.expiresInSeconds === undefined
          ? null
          : new Date(now + input.expiresInSeconds * 1000).toISOString(),
      revokedAt: null,
      lastUsedAt: null,
    };
    await this.#db
      .prepare(
        "INSERT INTO api_tokens (id, token_hash, owner, scopes, services, label, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      )
      .bind(
        record.id,
        await hashToken(token),
        record.owner,
        JSON.stringify(record.scopes),
        record.services === null ? null : JSON.stringify(record.services),
        record.label,
        record.createdAt,
        record.expiresAt,
      )
      .run();
    return { token, record };
  }

  /** The token's record when it exists, is not revoked and has not expired. */
  async authenticate(token: string): Promise<TokenRecord | undefined> {
    const row = await this.#db
      .prepare(`SELECT ${COLUMNS} FROM api_tokens WHERE token_hash = ?`)
      .bind(await hashToken(token))
      .first<TokenRow>();
    if (!row) return undefined;
    const record = toRecord(row);
    const now = this.#now();
    if (record.revokedAt !== null) return undefined;
    if (record.expiresAt !== null && Date.parse(record.expiresAt) <= now) return undefined;
    return record;
  }

  /** Notes that the token was used; a write at most once a minute per token. */
  async recordUse(record: TokenRecord): Promise<void> {
    const now = this.#now();
    if (record.lastUsedAt !== null && Date.parse(record.lastUsedAt) > now - LAST_USED_GRANULARITY_MS) return;
    const staleBefore = new Date(now - LAST_USED_GRANULARITY_MS).toISOString();
    await this.#db
      .prepare(
        "UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)",
      )
      .bind(new Date(now).toISOString(), record.id, staleBefore)
      .run();
  }

  async list(query: {
    owner?: string | undefined;
    limit: number;
    cursor?: string | undefined;
  }): Promise<TokenPage> {
    const conditions: string[] = [];
    const params: string[] = [];
    if (query.owner !== undefined) {
      conditions.push("owner = ?");
      params.push(query.owner);
    }
    if (query.cursor !== undefined) {
      const after = decodeCursor(query.cursor);
      if (!after) throw new InvalidCursorError();
      conditions.push("(created_at > ? OR (created_at = ? AND id > ?))");
      params.push(after.createdAt, after.createdAt, after.id);
    }
    const where = conditions.length > 0 ? `WHERE ${conditions.join(" AND ")}` : "";
    const { results } = await this.#db
      .prepare(`SELECT ${COLUMNS} FROM api_tokens ${where} ORDER BY created_at, id LIMIT ?`)
      .bind(...params, query.limit + 1)
      .all<TokenRow>();
    const rows = results.slice(0, query.limit);
    const last = rows.at(-1);
    return {
      tokens: rows.map(toRecord),
      ...(results.length > query.limit && last ? { nextCursor: encodeCursor(last.created_at, last.id) } : {}),
    };
  }

  /** False when no such token exists; revoking twice keeps the first revocation time. */
  async revoke(id: string): Promise<boolean> {
    const result = await this.#db
      .prepare("UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?")
      .bind(new Date(this.#now()).toISOString(), id)
      .run();
    return result.meta.changes > 0;
  }
}

export class InvalidCursorError extends Error {
  override readonly name = "InvalidCursorError";
}
