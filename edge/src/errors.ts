import { ProblemError, problemResponse } from "@chittyconnect/contract";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { AppEnv } from "./env.ts";

const STATUS_TITLES: Record<number, string> = {
  400: "Bad request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not found",
  405: "Method not allowed",
  413: "Payload too large",
  415: "Unsupported media type",
  429: "Too many requests",
};

export function onError(err: Error, c: Context<AppEnv>): Response {
  const requestId = c.get("requestId");
  if (err instanceof ProblemError) {
    return problemResponse(err.toProblem(requestId), err.headers);
  }
  if (err instanceof HTTPException && err.status < 500) {
    const problem = new ProblemError({
      status: err.status,
      code: `http_${err.status}`,
      title: STATUS_TITLES[err.status] ?? "Request failed",
    });
    return problemResponse(problem.toProblem(requestId));
  }
  // Fields chosen one by one: a message or stack can quote the input that failed, secrets included.
  console.error(
    JSON.stringify({ level: "error", msg: "unhandled error", requestId, error: err.name, at: thrownAt(err) }),
  );
  const problem = new ProblemError({ status: 500, code: "internal_error", title: "Internal server error" });
  return problemResponse(problem.toProblem(requestId));
}

export function notFound(c: Context<AppEnv>): Response {
  const requestId = c.get("requestId");
  const problem = new ProblemError({
    status: 404,
    code: "not_found",
    title: "Not found",
    detail: `No route for ${c.req.method} ${new URL(c.req.url).pathname}`,
  });
  return problemResponse(problem.toProblem(requestId));
}

/** The first stack frame's file and line: where to look, without the message the stack starts with. */
function thrownAt(err: Error): string | undefined {
  return /\n\s+at (?:.*\()?(\S+?:\d+):\d+\)?/.exec(err.stack ?? "")?.[1];
}
