import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { notFound } from "../errors.ts";
import { type JsonSchema, openApiApp, PUBLIC } from "../openapi-parts.ts";

/**
 * `/docs`: Swagger UI over `/api/v1/openapi.json`, every byte served by this Worker (no CDN) under a
 * CSP without 'unsafe-inline' or 'unsafe-eval'. Swagger UI's React sets styles through the CSSOM
 * (`element.style.x = …`), which `style-src 'self'` allows; only `style="…"` markup would be refused.
 */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join("; ");

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ChittyConnect edge API</title>
<link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/docs.js"></script>
</body>
</html>
`;

// Not inline in the page: script-src 'self' admits only scripts fetched from here. No validator badge
// (it would call a third-party host), and "Try it out" calls this same origin (servers[0]).
const INIT = `"use strict";
window.ui = SwaggerUIBundle({
  url: "/api/v1/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  persistAuthorization: false,
  tryItOutEnabled: false,
  displayRequestDuration: true,
});
`;

/** The files the page loads: from the swagger-ui-dist package (the DOCS_ASSETS binding), and ours. */
const ASSETS = {
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "swagger-ui.css": "text/css; charset=utf-8",
  "docs.js": "text/javascript; charset=utf-8",
  "favicon-32x32.png": "image/png",
} as const;
type AssetName = keyof typeof ASSETS;

const headers = (contentType: string) => ({
  "content-type": contentType,
  "content-security-policy": DOCS_CSP,
  "x-content-type-options": "nosniff",
  // The package version is pinned by the lockfile; an hour keeps a deploy's new files from lagging long.
  "cache-control": "public, max-age=3600",
});

const fileOf = (type: string): Record<string, { schema: JsonSchema }> => ({
  [type]: { schema: { type: "string" } },
});

const page = createRoute({
  method: "get",
  path: "/",
  tags: ["operations"],
  summary: "This API reference, browsable (Swagger UI served by the edge itself)",
  security: PUBLIC,
  responses: { 200: { description: "The page", content: fileOf("text/html") } },
});

const asset = createRoute({
  method: "get",
  path: "/{asset}",
  tags: ["operations"],
  summary: "The reference page's script and styles",
  security: PUBLIC,
  request: { params: z.object({ asset: z.enum(Object.keys(ASSETS) as [AssetName, ...AssetName[]]) }) },
  responses: {
    200: {
      description: "The file",
      content: { ...fileOf("text/javascript"), ...fileOf("text/css"), ...fileOf("image/png") },
    },
    404: { description: "No such file" },
  },
});

export const docsRoutes = openApiApp()
  .openapi(page, (c) => c.body(PAGE, 200, headers("text/html; charset=utf-8")))
  .openapi(
    asset,
    async (c) => {
      const name = c.req.valid("param").asset;
      if (name === "docs.js") return c.body(INIT, 200, headers(ASSETS[name]));
      const file = await c.env.DOCS_ASSETS.fetch(new URL(`/${name}`, c.req.url));
      if (!file.ok || !file.body) throw new Error(`docs asset ${name} missing: ${file.status}`);
      return c.body(file.body, 200, headers(ASSETS[name]));
    },
    // Any other name is simply not here.
    (result, c) => (result.success ? undefined : notFound(c)),
  );
