import { Hono } from "hono";
import { anchorRoutes } from "./audit/anchors.ts";
import { adminRoutes } from "./auth/admin.ts";
import { bearerAuth } from "./auth/bearer.ts";
import { credentialRoutes } from "./credentials/routes.ts";
import type { AppEnv } from "./env.ts";
import { notFound, onError } from "./errors.ts";
import { requestId } from "./request-id.ts";
import { healthRoutes } from "./status/routes.ts";

const api = new Hono<AppEnv>().use(bearerAuth).route("/credentials", credentialRoutes);

export const app = new Hono<AppEnv>()
  .use(requestId)
  .route("/", healthRoutes)
  .route("/api/v1/admin", adminRoutes)
  .route("/api/v1/internal", anchorRoutes)
  .route("/api/v1", api)
  .notFound(notFound)
  .onError(onError);

export default {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
} satisfies ExportedHandler<Env>;
