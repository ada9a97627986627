import { describe, expect, it } from "vitest";
import { call } from "./helpers.ts";

describe("/docs", () => {
  it("serves the page under a strict CSP, loading only the Worker's own files", async () => {
    const response = await call("/docs");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const csp = response.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe");
    const html = await response.text();
    const loaded = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(loaded.sort()).toEqual([
      "/docs/docs.js",
      "/docs/favicon-32x32.png",
      "/docs/swagger-ui-bundle.js",
      "/docs/swagger-ui.css",
    ]);
    expect(html).not.toMatch(/<script>|<style|style="/);
  });

  it.each([
    ["/docs/swagger-ui-bundle.js", "text/javascript; charset=utf-8", "SwaggerUIBundle"],
    ["/docs/swagger-ui.css", "text/css; charset=utf-8", ".swagger-ui"],
    ["/docs/docs.js", "text/javascript; charset=utf-8", "/api/v1/openapi.json"],
    ["/docs/favicon-32x32.png", "image/png", "PNG"],
  ])("serves %s from swagger-ui-dist or its own code", async (path, type, marker) => {
    const response = await call(path);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe(type);
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(await response.text()).toContain(marker);
  });

  it("hands out nothing else from the package: its own index.html and package.json are a 404", async () => {
    for (const path of [
      "/docs/index.html",
      "/docs/package.json",
      "/docs/swagger-initializer.js",
      "/docs/x/../package.json",
    ]) {
      const response = await call(path);
      expect(response.status, path).toBe(404);
      expect(((await response.json()) as { code: string }).code).toBe("not_found");
    }
    expect((await call("/index.html")).status).toBe(404);
  });
});
