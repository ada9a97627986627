import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ROUTE_CLASSES, routeClass } from "../src/platform/route-class.ts";

describe("routeClass", () => {
  it.each([
    ["/api/v1/credentials/provision", "credentials"],
    ["/api/v1/sessions", "sessions"],
    ["/api/v1/sessions/ws", "sessions"],
    ["/api/v1/context/k", "sessions"],
    ["/api/v1/decisions", "sessions"],
    ["/api/v1/documents/abc/download", "documents"],
    ["/api/v1/admin/tokens", "admin"],
    ["/api/v1/status", "other"],
    ["/health", "other"],
    ["/api/v1/credentialsX", "other"],
    ["/api/v1/sessionsfoo", "other"],
  ])("%s is %s", (path, cls) => {
    expect(routeClass(path)).toBe(cls);
  });

  it("gives every path exactly one known class", () => {
    fc.assert(
      fc.property(fc.webPath(), (path) => {
        expect(ROUTE_CLASSES).toContain(routeClass(path));
      }),
    );
    // fc.webPath's generator is slow to warm up in workerd on a loaded machine, not the function.
  }, 30_000);
});
