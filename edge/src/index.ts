import { drainUnreadBody } from "@chittyconnect/contract";
import { anchorRoutes } from "./audit/anchors.ts";
import { adminRoutes } from "./auth/admin.ts";
import { bearerAuth } from "./auth/bearer.ts";
import { edgeConfig } from "./config.ts";
import { credentialRoutes } from "./credentials/routes.ts";
import { docsRoutes } from "./docs/routes.ts";
import { documentQueue } from "./documents/indexer.ts";
import { presignedCache } from "./documents/presigned-cache.ts";
import { documentRoutes, presignedRoutes } from "./documents/routes.ts";
import { documentsScheduled } from "./documents/scheduled.ts";
import { notFound, onError } from "./errors.ts";
import { flagAdminRoutes } from "./flags/routes.ts";
import { serveOpenApiDocument } from "./openapi.ts";
import { openApiApp } from "./openapi-parts.ts";
import { BENCH_BARE_PREFIX, benchBareHandler } from "./platform/bench-route.ts";
import { featureFlags } from "./platform/flags.ts";
import type { RouteTable } from "./platform/method-not-allowed.ts";
import { msgpack } from "./platform/msgpack.ts";
import { clientRateLimit, ownerRateLimit } from "./platform/rate-limit.ts";
import { platformStack } from "./platform/stack.ts";
import { presignedUsage, usageLedger } from "./platform/usage.ts";
import { requestId } from "./request-id.ts";
import { sessionRoutes } from "./sessions/routes.ts";
import { backupSessions } from "./sessions/scheduled.ts";
import { sessionSocketRoutes } from "./sessions/socket.ts";
import { healthRoutes } from "./status/routes.ts";
import { usageRoutes } from "./usage/routes.ts";

/** The daily session backup's cron in `edge/wrangler.jsonc`; every other trigger runs the document sweep. */
const SESSION_BACKUP_CRON = "17 3 * * *";

export { RateLimiterDO } from "./platform/rate-limiter-do.ts";
export { SessionStateDO } from "./sessions/durable-object.ts";

// Mounted with `.route()` on OpenAPIHono apps, each sub-app's route definitions join the served
// OpenAPI document (the chain's static type is Hono after `.use()`, the object stays an OpenAPIHono).
const api = openApiApp();
api
  .use(bearerAuth)
  .use(usageLedger)
  .use(ownerRateLimit)
  .use(featureFlags)
  .route("/credentials", credentialRoutes)
  .route("/documents", documentRoutes)
  .route("/usage", usageRoutes)
  .route("/", sessionRoutes);

export const app = openApiApp();
app
  .use(requestId)
  .use(...platformStack((): RouteTable => app))
  // Every route, /health included: a misconfigured edge says so at its first request.
  .use(async (c, next) => {
    edgeConfig(c.env);
    await next();
  })
  .use(clientRateLimit)
  .use(msgpack);
// Before the bearer-guarded /api/v1 sub-app: the document is public. It is generated at its first
// request, from every route mounted below as well.
serveOpenApiDocument(app);
app
  .route("/", healthRoutes)
  .route("/docs", docsRoutes)
  .route("/api/v1/admin", adminRoutes)
  .route("/api/v1/admin", flagAdminRoutes)
  .route("/api/v1/sessions", sessionSocketRoutes)
  .use("/api/v1/documents/presigned/*", presignedUsage)
  .use("/api/v1/documents/*", presignedCache)
  .route("/api/v1/documents/presigned", presignedRoutes)
  .route("/api/v1/internal", anchorRoutes)
  .route("/api/v1", api)
  .all(`${BENCH_BARE_PREFIX}/*`, benchBareHandler)
  .notFound(notFound)
  .onError(onError);

export default {
  fetch: async (request, env, ctx) => {
    const response = await app.fetch(request, env, ctx);
    // An error answered before the route read the body (429, 503, 405, 403, …) must not leave the
    // incoming body unread: the runtime would reset the connection (see DRAIN_LIMIT_BYTES).
    if (response.status >= 400) await drainUnreadBody(request);
    return response;
  },
  // One cron per job (wrangler.jsonc `triggers.crons`): the daily session backup and the
  // quarter-hourly document sweep.
  // Awaited rather than handed to `ctx.waitUntil`, so a caller without a context (tests) sees it finish.
  scheduled: async (controller, env, _ctx?: ExecutionContext) => {
    if (controller.cron === SESSION_BACKUP_CRON) await backupSessions(env, controller.scheduledTime);
    else await documentsScheduled(controller, env);
  },
  queue: async (batch, env) => {
    await documentQueue(batch, env);
  },
} satisfies ExportedHandler<Env>;
