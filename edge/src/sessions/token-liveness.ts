/**
 * Which of these token ids may still be used: not revoked, not expired. Reads the tokens table the
 * bearer check uses, so a socket lives exactly as long as a request with its token would succeed.
 */
export async function liveTokenIds(
  db: D1Database,
  ids: readonly string[],
  now: number,
): Promise<Set<string>> {
  const live = new Set<string>();
  // D1 binds at most 100 parameters per statement.
  for (let start = 0; start < ids.length; start += 90) {
    const chunk = ids.slice(start, start + 90);
    const { results } = await db
      .prepare(
        `SELECT id FROM api_tokens WHERE id IN (${chunk.map(() => "?").join(", ")})
         AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)`,
      )
      .bind(...chunk, new Date(now).toISOString())
      .all<{ id: string }>();
    for (const row of results) live.add(row.id);
  }
  return live;
}
