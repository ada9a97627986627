import { z } from "zod";

/** RFC 9457 problem details, as every ChittyConnect service answers errors. */
export const ProblemSchema = z
  .object({
    type: z.string().default("about:blank"),
    title: z.string(),
    status: z.number().int().min(400).max(599),
    detail: z.string().optional(),
    instance: z.string().optional(),
    code: z.string().optional(),
    requestId: z.string().optional(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .loose();
export type Problem = z.infer<typeof ProblemSchema>;

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/**
 * A failure meant for the client. `code` is a stable machine-readable identifier
 * (e.g. `signature_invalid`); `detail` is shown to the caller, so it must not leak internals.
 */
export class ProblemError extends Error {
  override readonly name = "ProblemError";
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly detail: string | undefined;
  readonly headers: Record<string, string>;
  readonly errors: Problem["errors"];

  constructor(init: {
    status: number;
    code: string;
    title: string;
    detail?: string;
    headers?: Record<string, string>;
    errors?: Problem["errors"];
    cause?: unknown;
  }) {
    super(init.detail ?? init.title, { cause: init.cause });
    this.status = init.status;
    this.code = init.code;
    this.title = init.title;
    this.detail = init.detail;
    this.headers = init.headers ?? {};
    this.errors = init.errors;
  }

  toProblem(requestId?: string): Problem {
    return {
      type: `https://chittyconnect.dev/problems/${this.code}`,
      title: this.title,
      status: this.status,
      code: this.code,
      ...(this.detail === undefined ? {} : { detail: this.detail }),
      ...(this.errors === undefined ? {} : { errors: this.errors }),
      ...(requestId === undefined ? {} : { requestId }),
    };
  }
}

/** Turns zod issues into the `errors` member of a 400 problem. */
export function validationProblem(error: z.ZodError, title = "Invalid request"): ProblemError {
  return new ProblemError({
    status: 400,
    code: "validation_failed",
    title,
    detail: "The request did not match the expected shape; see errors.",
    errors: error.issues.slice(0, 20).map((issue) => ({
      path: issue.path.map(String).join(".") || "(root)",
      message: issue.message,
    })),
  });
}

/** Builds a problem+json Response; works the same on workerd and Node. */
export function problemResponse(problem: Problem, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(problem), {
    status: problem.status,
    headers: { "content-type": PROBLEM_CONTENT_TYPE, "cache-control": "no-store", ...headers },
  });
}
