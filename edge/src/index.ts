import { Hono } from "hono";
import { adminRoutes } from "./auth/admin.ts";
import { bearerAuth } from "./auth/bearer.ts";
import { edgeConfig } from "./config.ts";
import { credentialRoutes } from "./credentials/routes.ts";
import type { AppEnv } from "./env.ts";
import { notFound, onError } from "./errors.ts";
import { requestId } from "./request-id.ts";
import { sessionRoutes } from "./sessions/routes.ts";
import { backupSessions } from "./sessions/scheduled.ts";
import { sessionSocketRoutes } from "./sessions/socket.ts";
import { healthRoutes } from "./status/routes.ts";

export { SessionStateDO } from "./sessions/durable-object.ts";

const api = new Hono<AppEnv>()
  .use(bearerAuth)
  .route("/credentials", credentialRoutes)
  .route("/", sessionRoutes);

export const app = new Hono<AppEnv>()
  .use(requestId)
  // Every route, /health included: a misconfigured edge says so at its first request.
  .use(async (c, next) => {
    edgeConfig(c.env);
    await next();
  })
  .route("/", healthRoutes)
  .route("/api/v1/admin", adminRoutes)
  .route("/api/v1/sessions/ws", sessionSocketRoutes)
  .route("/api/v1", api)
  .notFound(notFound)
  .onError(onError);

export default {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
  scheduled: async (controller, env, ctx) => {
    ctx.waitUntil(backupSessions(env, controller.scheduledTime));
  },
} satisfies ExportedHandler<Env>;
