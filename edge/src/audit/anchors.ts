import {
  importSigningKey,
  isJsonMediaType,
  MemoryNonceStore,
  OwnerIdSchema,
  ProblemError,
  parseJsonBytes,
  problemResponse,
  readRequestLimited,
  type SigningKey,
  unsupportedMediaType,
  validationProblem,
  verifyRequest,
} from "@chittyconnect/contract";
import { createRoute } from "@hono/zod-openapi";
import type { Context } from "hono";
import { z } from "zod";
import type { AppEnv } from "../env.ts";
import { jsonBody, openApiApp, problems, reply } from "../openapi-parts.ts";

/**
 * Origin → edge audit anchors. An origin reports the head of its audit chain (seq, hash) at least
 * every minute; the edge keeps the latest per origin instance in D1 and never lets it go back, so
 * a log whose tail was cut, or that was rewritten, no longer contains its anchor. Requests are
 * signed with the contract's scheme and the shared EDGE_SIGNING_KEY; the owner header carries
 * the instance, and the `/internal/` path keeps these apart from the edge → origin `/v1/` calls.
 */
export const AnchorReportSchema = z
  .object({
    instance: OwnerIdSchema,
    seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    hash: z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lower-case hex digits"),
    entryAt: z.iso.datetime().optional(),
  })
  .strict();

export const AnchorSchema = z.object({
  instance: z.string(),
  seq: z.number().int(),
  hash: z.string(),
  reportedAt: z.string(),
});
export type Anchor = z.infer<typeof AnchorSchema>;

const MAX_REPORT_BYTES = 1024;

/** Per isolate: with the monotonic head a replay gains nothing; the store only keeps the window honest. */
const nonces = new MemoryNonceStore();
let cachedKey: { secret: string; key: SigningKey } | undefined;

async function signingKey(secret: string): Promise<SigningKey> {
  if (cachedKey?.secret !== secret) cachedKey = { secret, key: await importSigningKey(secret) };
  return cachedKey.key;
}

const originUnauthorized = () =>
  new ProblemError({
    status: 401,
    code: "unauthorized",
    title: "Unauthorized",
    detail: "A request signed by the origin is required.",
    headers: { "www-authenticate": 'ChittySignature realm="chittyconnect-origin"' },
  });

/** Verifies the origin's signature over the body; returns the instance (the signed owner) and body. */
async function signedByOrigin(
  c: Context<AppEnv>,
): Promise<{ instance: string; body: Uint8Array<ArrayBuffer> }> {
  const body = await readRequestLimited(c.req.raw, MAX_REPORT_BYTES);
  const result = await verifyRequest({
    method: c.req.method,
    url: c.req.url,
    headers: c.req.raw.headers,
    body,
    keys: [await signingKey(c.env.EDGE_SIGNING_KEY)],
    nonces,
  });
  if (!result.ok) throw originUnauthorized();
  return { instance: result.owner, body };
}

interface AnchorRow {
  instance: string;
  seq: number;
  hash: string;
  reported_at: string;
}

const view = (row: AnchorRow): Anchor => ({
  instance: row.instance,
  seq: row.seq,
  hash: row.hash,
  reportedAt: row.reported_at,
});

export class AnchorStore {
  readonly #db: D1Database;

  constructor(db: D1Database) {
    this.#db = db;
  }

  /** Moves the head forward (or confirms it); returns undefined when the report would move it back. */
  async report(report: z.infer<typeof AnchorReportSchema>, now: string): Promise<Anchor | undefined> {
    const row = await this.#db
      .prepare(
        `INSERT INTO audit_anchors (instance, seq, hash, entry_at, first_reported_at, reported_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)
         ON CONFLICT (instance) DO UPDATE SET
           seq = excluded.seq, hash = excluded.hash, entry_at = excluded.entry_at, reported_at = excluded.reported_at
         WHERE excluded.seq > audit_anchors.seq
            OR (excluded.seq = audit_anchors.seq AND excluded.hash = audit_anchors.hash)
         RETURNING instance, seq, hash, reported_at`,
      )
      .bind(report.instance, report.seq, report.hash, report.entryAt ?? null, now)
      .first<AnchorRow>();
    return row ? view(row) : undefined;
  }

  async find(instance: string): Promise<Anchor | undefined> {
    const row = await this.#db
      .prepare("SELECT instance, seq, hash, reported_at FROM audit_anchors WHERE instance = ?1")
      .bind(instance)
      .first<AnchorRow>();
    return row ? view(row) : undefined;
  }
}

const SIGNED = [{ originSignature: [] }];

const reportRoute = createRoute({
  method: "post",
  path: "/audit-anchor",
  tags: ["internal"],
  summary:
    "Origin only: report the audit chain head (signed with the edge↔origin key, the instance as owner)",
  security: SIGNED,
  request: { body: jsonBody(AnchorReportSchema) },
  responses: {
    200: reply("The head now held for this instance", AnchorSchema),
    ...problems(400, 401, 403, 409, 413, 415),
  },
});

// The instance is checked against the signed owner, not by shape: any mismatch is the same 401.
const findRoute = createRoute({
  method: "get",
  path: "/audit-anchor/{instance}",
  tags: ["internal"],
  summary: "Origin only: the audit chain head the edge holds for this instance (signed request)",
  security: SIGNED,
  request: { params: z.object({ instance: z.string() }) },
  responses: { 200: reply("The held head", AnchorSchema), ...problems(401, 404) },
});

export const anchorRoutes = openApiApp()
  .openapi(reportRoute, async (c) => {
    const { instance, body } = await signedByOrigin(c);
    if (!isJsonMediaType(c.req.header("content-type"))) throw unsupportedMediaType();
    const parsed = AnchorReportSchema.safeParse(parseJsonBytes(body));
    if (!parsed.success) throw validationProblem(parsed.error);
    const report = parsed.data;
    if (report.instance !== instance) {
      throw new ProblemError({
        status: 403,
        code: "anchor_instance_mismatch",
        title: "Forbidden",
        detail: "The report's instance is not the one the request was signed for.",
      });
    }
    const store = new AnchorStore(c.env.DB);
    const stored = await store.report(report, new Date().toISOString());
    if (stored) return c.json(stored, 200, { "cache-control": "no-store" });
    const held = await store.find(instance);
    const problem = new ProblemError({
      status: 409,
      code: "audit_anchor_conflict",
      title: "Audit anchor conflict",
      detail:
        "The edge holds a later or different head for this instance: the origin's log was cut or rewritten.",
    });
    return problemResponse({ ...problem.toProblem(c.get("requestId")), ...(held ? { anchor: held } : {}) });
  })
  .openapi(findRoute, async (c) => {
    const { instance } = await signedByOrigin(c);
    if (c.req.valid("param").instance !== instance) throw originUnauthorized();
    const held = await new AnchorStore(c.env.DB).find(instance);
    if (!held) {
      throw new ProblemError({
        status: 404,
        code: "anchor_not_found",
        title: "Not found",
        detail: "The edge holds no audit anchor for this instance yet.",
      });
    }
    return c.json(held, 200, { "cache-control": "no-store" });
  });
