import { ProblemError } from "@chittyconnect/contract";

/** Another owner's document answers exactly like a missing one, so ids never leak. */
export function documentNotFound(): ProblemError {
  return new ProblemError({
    status: 404,
    code: "document_not_found",
    title: "Not found",
    detail: "No such document.",
  });
}

export function quotaExceeded(what: "bytes" | "count"): ProblemError {
  return new ProblemError({
    status: 507,
    code: "quota_exceeded",
    title: "Insufficient storage",
    detail:
      what === "bytes"
        ? "Storing this would exceed the owner's byte quota; delete documents or versions first."
        : "Storing this would exceed the owner's document count quota; delete documents first.",
  });
}

export function invalidForm(detail: string): ProblemError {
  return new ProblemError({ status: 400, code: "invalid_form", title: "Invalid form", detail });
}

export function lengthRequired(): ProblemError {
  return new ProblemError({
    status: 411,
    code: "length_required",
    title: "Length required",
    detail: "Send a Content-Length header; sizes are checked against quotas before any byte is stored.",
  });
}

export function mimeMismatch(declared: string, detected: string): ProblemError {
  return new ProblemError({
    status: 415,
    code: "mime_mismatch",
    title: "Unsupported media type",
    detail: `The content looks like ${detected}, not the declared ${declared}.`,
  });
}

export function storageFailed(): ProblemError {
  return new ProblemError({
    status: 503,
    code: "storage_unavailable",
    title: "Service unavailable",
    detail: "Storing the document failed and was rolled back; retry later.",
    headers: { "retry-after": "5" },
  });
}

export function badRequest(code: string, detail: string): ProblemError {
  return new ProblemError({ status: 400, code, title: "Bad request", detail });
}
