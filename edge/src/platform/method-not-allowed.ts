import { ProblemError, problemResponse } from "@chittyconnect/contract";
import type { MiddlewareHandler } from "hono";
import { createMiddleware } from "hono/factory";
import { TrieRouter } from "hono/router/trie-router";
import type { RouterRoute } from "hono/types";
import type { AppEnv } from "../env.ts";

export interface RouteTable {
  readonly routes: RouterRoute[];
}

/** Path pattern → the methods its handlers answer (HEAD wherever GET is), from the app's routes. */
function methodIndex(routes: readonly RouterRoute[]): TrieRouter<string[]> {
  const byPath = new Map<string, Set<string>>();
  for (const route of routes) {
    // Middleware registers as ALL; it answers no method of its own.
    if (route.method === "ALL") continue;
    const methods = byPath.get(route.path) ?? new Set<string>();
    methods.add(route.method);
    if (route.method === "GET") methods.add("HEAD");
    byPath.set(route.path, methods);
  }
  const router = new TrieRouter<string[]>();
  for (const [path, methods] of byPath) router.add("ALL", path, [...methods]);
  return router;
}

/**
 * A wrong method on a known path answers 405 `method_not_allowed` with `Allow`, and an OPTIONS that
 * is not a CORS preflight 204 with `Allow`; unknown paths go on to their 404. Decided before any
 * handler runs, so a bearer guard does not answer 401 for a method no route has (the route table is
 * public in the OpenAPI document anyway). hono/method-not-allowed does the same only after the
 * handlers, which is too late for that. The index is built once per isolate, at the first request;
 * `table` is a getter because the middleware is built while the app that holds it is being built.
 */
export function methodNotAllowedFor(table: () => RouteTable): MiddlewareHandler<AppEnv> {
  let index: TrieRouter<string[]> | undefined;
  return createMiddleware<AppEnv>(async (c, next) => {
    index ??= methodIndex(table().routes);
    const method = c.req.method;
    const [matches] = index.match("ALL", c.req.path);
    if (matches.length === 0) return next();
    const allowed = new Set(matches.flatMap(([methods]) => methods));
    if (allowed.has(method)) return next();
    const allow = [...allowed].join(", ");
    if (method === "OPTIONS") return new Response(null, { status: 204, headers: { allow } });
    const problem = new ProblemError({
      status: 405,
      code: "method_not_allowed",
      title: "Method not allowed",
      detail: `${method} is not allowed here; allowed: ${allow}.`,
    });
    return problemResponse(problem.toProblem(c.get("requestId")), { allow });
  });
}
