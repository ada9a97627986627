import { describe, expect, it } from "vitest";
import { errorFields, RequestLog } from "../../src/logger.ts";
import { captureLogger } from "./harness.ts";

describe("logger", () => {
  it("redacts secret-named fields as a last guard", () => {
    const { logger, lines } = captureLogger();
    logger.info(
      { value: "plain-secret", jwe: "sealed-secret", authorization: "Bearer op-token", token: "bare-token" },
      "something happened",
    );
    const text = JSON.stringify(lines());
    for (const secret of ["plain-secret", "sealed-secret", "op-token", "bare-token"]) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain("[redacted]");
    expect(text).toContain("something happened");
  });

  it("cuts an error passed as `err` down to its class and code, never its request or message", () => {
    const { logger, lines } = captureLogger();
    const error = Object.assign(new Error("request to https://connect with Bearer op-token failed"), {
      code: "ECONNRESET",
      config: { headers: { Authorization: "Bearer op-token" }, data: '{"value":"deep-secret"}' },
    });
    logger.warn({ err: error }, "call failed");
    const [line] = lines();
    expect(line?.err).toMatchObject({ error: "Error", code: "ECONNRESET" });
    expect(JSON.stringify(lines())).not.toMatch(/op-token|deep-secret/);
  });

  it("errorFields keeps name, code, syscall and the throwing frame, drops the message", () => {
    let thrown: unknown;
    try {
      JSON.parse('{"value": "dev-secret-value" oops');
    } catch (error) {
      thrown = error;
    }
    const fields = errorFields(thrown);
    expect(fields.error).toBe("SyntaxError");
    expect(JSON.stringify(fields)).not.toContain("dev-secret-value");
    expect(errorFields(Object.assign(new Error("x"), { code: "ENOSPC", syscall: "write" }))).toMatchObject({
      code: "ENOSPC",
      syscall: "write",
    });
    expect(errorFields("a string")).toEqual({ error: "string" });
  });

  it("a request's log adds the request id to every line, with or without fields", () => {
    const { logger, lines } = captureLogger();
    const log = new RequestLog(logger, "req-42");
    log.warn({ reason: "stale" }, "signature rejected");
    log.error("keys unavailable");
    expect(lines()).toMatchObject([
      { requestId: "req-42", reason: "stale", msg: "signature rejected", level: 40 },
      { requestId: "req-42", msg: "keys unavailable", level: 50 },
    ]);
  });
});
