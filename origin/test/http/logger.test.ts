import { describe, expect, it } from "vitest";
import { captureLogger } from "./harness.ts";

describe("logger redaction", () => {
  it("hides secrets at the top level and nested inside objects", () => {
    const { logger, lines } = captureLogger();
    logger.info(
      {
        value: "plain-secret",
        jwe: "sealed-secret",
        headers: {
          authorization: "Bearer op-token",
          cookie: "session=abc",
          "cf-access-client-secret": "access-secret",
          "cf-access-jwt-assertion": "eyJhbGciOi",
          "x-chitty-signature": "sig-bytes",
        },
        config: {
          OP_CONNECT_TOKEN: "connect-token",
          EDGE_SIGNING_KEY: "edge-key",
          AUDIT_HMAC_KEY: "hmac-key",
        },
        result: { credential: { value: "deep-secret" } },
        token: "bare-token",
        "x-chitty-signature": "top-level-sig",
      },
      "something happened",
    );
    const text = JSON.stringify(lines());
    for (const secret of [
      "plain-secret",
      "sealed-secret",
      "op-token",
      "session=abc",
      "access-secret",
      "eyJhbGciOi",
      "sig-bytes",
      "connect-token",
      "edge-key",
      "hmac-key",
      "deep-secret",
      "bare-token",
      "top-level-sig",
    ]) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain("[redacted]");
    expect(text).toContain("something happened");
  });
});
