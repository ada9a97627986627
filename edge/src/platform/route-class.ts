/**
 * Every request falls into one route class; rate limits, feature flags, usage counters and request
 * logs are all keyed on it, so one function decides it for all of them.
 */
export const ROUTE_CLASSES = ["credentials", "sessions", "documents", "admin", "other"] as const;
export type RouteClass = (typeof ROUTE_CLASSES)[number];

const PREFIXES: ReadonlyArray<readonly [string, RouteClass]> = [
  ["/api/v1/credentials", "credentials"],
  ["/api/v1/sessions", "sessions"],
  ["/api/v1/context", "sessions"],
  ["/api/v1/decisions", "sessions"],
  ["/api/v1/documents", "documents"],
  ["/api/v1/admin", "admin"],
];

/** The class of a request path (the URL's pathname, without query). */
export function routeClass(pathname: string): RouteClass {
  for (const [prefix, cls] of PREFIXES) {
    if (pathname === prefix || pathname.startsWith(`${prefix}/`)) return cls;
  }
  return "other";
}
