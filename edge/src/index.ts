import { Hono } from "hono";
import { adminRoutes } from "./auth/admin.ts";
import { bearerAuth } from "./auth/bearer.ts";
import { credentialRoutes } from "./credentials/routes.ts";
import { documentCors } from "./documents/cors.ts";
import { documentQueue } from "./documents/indexer.ts";
import { documentRoutes, presignedRoutes } from "./documents/routes.ts";
import { documentsScheduled } from "./documents/scheduled.ts";
import type { AppEnv } from "./env.ts";
import { notFound, onError } from "./errors.ts";
import { requestId } from "./request-id.ts";
import { healthRoutes } from "./status/routes.ts";

const api = new Hono<AppEnv>()
  .use(bearerAuth)
  .route("/credentials", credentialRoutes)
  .route("/documents", documentRoutes);

export const app = new Hono<AppEnv>()
  .use(requestId)
  .route("/", healthRoutes)
  .route("/api/v1/admin", adminRoutes)
  .use("/api/v1/documents/*", documentCors)
  .use("/api/v1/documents", documentCors)
  .route("/api/v1/documents/presigned", presignedRoutes)
  .route("/api/v1", api)
  .notFound(notFound)
  .onError(onError);

export default {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
  scheduled: async (controller, env) => {
    await documentsScheduled(controller, env);
  },
  queue: async (batch, env) => {
    await documentQueue(batch, env);
  },
} satisfies ExportedHandler<Env>;
