import { Headers, ProblemError, problemResponse } from "@chittyconnect/contract";
import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { errorFields } from "../logger.ts";
import type { OriginEnv } from "./env.ts";

/** The one place errors become responses: client problems as they are, everything else opaque. */
export const onError: ErrorHandler<OriginEnv> = (error, c) => {
  const requestId = c.get("requestId");
  if (error instanceof ProblemError) {
    if (error.status >= 500) c.var.log.warn({ code: error.code, status: error.status }, error.message);
    return problemResponse(error.toProblem(requestId), { ...error.headers, [Headers.requestId]: requestId });
  }
  c.var.log.error(errorFields(error), "unhandled error");
  return problemResponse(
    {
      type: "https://chittyconnect.dev/problems/internal_error",
      title: "Internal server error",
      status: 500,
      code: "internal_error",
      detail: "The request failed unexpectedly; quote the request id when reporting it.",
      requestId,
    },
    { [Headers.requestId]: requestId },
  );
};

export const notFound: NotFoundHandler<OriginEnv> = (c: Context<OriginEnv>) => {
  const requestId = c.get("requestId");
  const problem = new ProblemError({
    status: 404,
    code: "not_found",
    title: "Not found",
    detail: "No such endpoint.",
  });
  return problemResponse(problem.toProblem(requestId), { [Headers.requestId]: requestId });
};
