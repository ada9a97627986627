import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import type { AppEnv } from "../env.ts";
import { documentConfig } from "./config.ts";

/** Browser uploads from the allowlisted origins only (DOCUMENT_CORS_ORIGINS); preflights need no token. */
export const documentCors: MiddlewareHandler<AppEnv> = cors({
  origin: (origin, c) => (documentConfig(c.env).corsOrigins.includes(origin) ? origin : null),
  allowMethods: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
  allowHeaders: ["authorization", "content-type", "if-match", "if-none-match", "range", "x-request-id"],
  exposeHeaders: [
    "etag",
    "content-range",
    "content-disposition",
    "content-length",
    "location",
    "x-request-id",
  ],
  maxAge: 600,
});
