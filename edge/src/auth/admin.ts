import { OwnerIdSchema, ProblemError, TokenServicesSchema } from "@chittyconnect/contract";
import { createRoute } from "@hono/zod-openapi";
import { createMiddleware } from "hono/factory";
import { z } from "zod";
import { edgeConfig, ONE_YEAR_SECONDS } from "../config.ts";
import type { AppEnv } from "../env.ts";
import { readJsonBody } from "../json-body.ts";
import { jsonBody, notFoundHook, openApiApp, problems, reply } from "../openapi-parts.ts";
import { assertAdminTokenStrength, tokenLifetimeSeconds } from "./admin-policy.ts";
import { unauthorized } from "./bearer.ts";
import { type Scope, ScopeListSchema, ScopeSchema } from "./scopes.ts";
import type { TokenRecord } from "./token-store.ts";
import { InvalidCursorError, TokenStore } from "./token-store.ts";

export const MintTokenRequestSchema = z
  .object({
    owner: OwnerIdSchema,
    scopes: ScopeListSchema,
    label: z.string().min(1).max(100).optional(),
    /** Omitted: TOKEN_MAX_LIFETIME_SECONDS. Above it only with allowLongLived. */
    expiresInSeconds: z.number().int().min(60).max(ONE_YEAR_SECONDS).optional(),
    allowLongLived: z.boolean().optional(),
    services: TokenServicesSchema.optional(),
  })
  .strict()
  .superRefine(requireServicesForCredentials);

const CREDENTIAL_SCOPES: readonly Scope[] = ["credentials:provision", "credentials:rotate"];

/** A token that can fetch or rotate credentials names the services it acts for; others name none. */
function requireServicesForCredentials(
  input: { scopes: Scope[]; services?: string[] | undefined },
  ctx: z.RefinementCtx,
): void {
  const needsServices = input.scopes.some((scope) => CREDENTIAL_SCOPES.includes(scope));
  if (needsServices && input.services === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["services"],
      message: 'required with a credentials:* scope: the services this token acts for, or ["*"]',
    });
  }
  if (!needsServices && input.services !== undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["services"],
      message: "only tokens with a credentials:* scope are bound to services",
    });
  }
}

export const ListTokensQuerySchema = z.object({
  owner: OwnerIdSchema.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z.string().min(1).max(512).optional(),
});

const TokenIdSchema = z.string().regex(/^tok_[0-9a-f-]{36}$/);

export const MintTokenResponseSchema = z.object({
  id: z.string(),
  /** Shown once; the edge keeps only its SHA-256. */
  token: z.string(),
  owner: z.string(),
  scopes: z.array(ScopeSchema),
  /** The services a credentials token acts for; null when it names none. */
  services: z.array(z.string()).nullable(),
  expiresAt: z.string().nullable(),
});

/** A token as listed: never the token or its hash. */
export const TokenViewSchema = z.object({
  id: z.string(),
  owner: z.string(),
  scopes: z.array(ScopeSchema),
  services: z.array(z.string()).nullable(),
  label: z.string().nullable(),
  createdAt: z.string(),
  expiresAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
  lastUsedAt: z.string().nullable(),
});

export const TokenListResponseSchema = z.object({
  tokens: z.array(TokenViewSchema),
  nextCursor: z.string().optional(),
});

/**
 * Compares digests rather than the raw strings so the comparison takes the same time whatever the
 * lengths, and timingSafeEqual never sees inputs of different sizes.
 */
export async function adminTokenMatches(presented: string, expected: string): Promise<boolean> {
  if (expected.length === 0) return false;
  const encoder = new TextEncoder();
  const [a, b] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(presented)),
    crypto.subtle.digest("SHA-256", encoder.encode(expected)),
  ]);
  return crypto.subtle.timingSafeEqual(a, b);
}

const adminGuard = createMiddleware<AppEnv>(async (c, next) => {
  const config = edgeConfig(c.env);
  assertAdminTokenStrength(config);
  const match = /^Bearer +(\S{1,512}) *$/i.exec(c.req.header("authorization") ?? "");
  const presented = match?.[1];
  if (presented === undefined || !(await adminTokenMatches(presented, config.ADMIN_TOKEN))) {
    throw unauthorized("The admin token is required.", "chittyconnect-admin");
  }
  await next();
});

function publicView(record: TokenRecord): z.infer<typeof TokenViewSchema> {
  return {
    id: record.id,
    owner: record.owner,
    scopes: record.scopes,
    services: record.services,
    label: record.label,
    createdAt: record.createdAt,
    expiresAt: record.expiresAt,
    revokedAt: record.revokedAt,
    lastUsedAt: record.lastUsedAt,
  };
}

function tokenNotFound(): ProblemError {
  return new ProblemError({
    status: 404,
    code: "token_not_found",
    title: "Not found",
    detail: "No such token.",
  });
}

/** The admin token, not an API token: `adminGuard` checks it for every route here. */
const ADMIN = [{ admin: [] }];

const mint = createRoute({
  method: "post",
  path: "/tokens",
  tags: ["admin"],
  summary: "Mint an API token (admin token required)",
  security: ADMIN,
  request: {
    body: jsonBody(MintTokenRequestSchema, {
      example: {
        owner: "01-C-DEV-0001-P-2601-A-1",
        scopes: ["credentials:provision"],
        services: ["chittyid"],
        label: "nightly export",
      },
    }),
  },
  responses: {
    201: reply("The token, shown once", MintTokenResponseSchema),
    ...problems(400, 401, 413, 415, 500),
  },
});

const list = createRoute({
  method: "get",
  path: "/tokens",
  tags: ["admin"],
  summary: "List tokens, oldest first (admin token required); never shows a token or its hash",
  security: ADMIN,
  request: { query: ListTokensQuerySchema },
  responses: { 200: reply("A page of tokens", TokenListResponseSchema), ...problems(400, 401) },
});

const revoke = createRoute({
  method: "delete",
  path: "/tokens/{id}",
  tags: ["admin"],
  summary: "Revoke a token (admin token required); revoking a revoked token answers 204 again",
  security: ADMIN,
  request: { params: z.object({ id: TokenIdSchema }) },
  responses: { 204: { description: "Revoked (now or before)" }, ...problems(401, 404) },
});

export const adminRoutes = openApiApp();
adminRoutes.use(adminGuard);
adminRoutes
  .openapi(mint, async (c) => {
    const input = await readJsonBody(c.req.raw, MintTokenRequestSchema);
    const { TOKEN_MAX_LIFETIME_SECONDS } = edgeConfig(c.env);
    const expiresInSeconds = tokenLifetimeSeconds(input, TOKEN_MAX_LIFETIME_SECONDS);
    const { token, record } = await new TokenStore(c.env.DB).mint({ ...input, expiresInSeconds });
    const body: z.infer<typeof MintTokenResponseSchema> = {
      id: record.id,
      token,
      owner: record.owner,
      scopes: record.scopes,
      services: record.services,
      expiresAt: record.expiresAt,
    };
    return c.json(body, 201, { "cache-control": "no-store" });
  })
  .openapi(list, async (c) => {
    try {
      const page = await new TokenStore(c.env.DB).list(c.req.valid("query"));
      return c.json(
        { tokens: page.tokens.map(publicView), ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) },
        200,
        { "cache-control": "no-store" },
      );
    } catch (err) {
      if (err instanceof InvalidCursorError) {
        throw new ProblemError({ status: 400, code: "invalid_cursor", title: "Invalid cursor" });
      }
      throw err;
    }
  })
  .openapi(
    revoke,
    async (c) => {
      if (!(await new TokenStore(c.env.DB).revoke(c.req.valid("param").id))) throw tokenNotFound();
      return c.body(null, 204);
    },
    // An id that is not a token id names no token: the same 404 as an unknown one.
    notFoundHook(tokenNotFound),
  );
