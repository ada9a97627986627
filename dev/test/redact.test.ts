import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { REDACTED, redactUrlCredentials } from "../src/stack/redact.ts";

// The edge's presigned tokens and tickets are base64url pieces joined by dots.
const credential = fc.string({
  unit: fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."),
  minLength: 8,
  maxLength: 120,
});
const method = fc.constantFrom("GET", "HEAD", "POST");

describe("redactUrlCredentials", () => {
  it("removes a presigned token from wrangler's request line and keeps the rest", () => {
    const token =
      "01-C-DEV-0001-P-2601-A-1.72c306bd-e59c.1.1795950154.BmdRmB5BakRByxKkFYjkrmNJno_J8e-Rd_PGgSf2drk";
    expect(
      redactUrlCredentials(`[wrangler:info] GET /api/v1/documents/presigned/${token} 200 OK (52ms)`),
    ).toBe(`[wrangler:info] GET /api/v1/documents/presigned/${REDACTED} 200 OK (52ms)`);
  });

  it("removes a WebSocket ticket and keeps the other query parameters", () => {
    expect(
      redactUrlCredentials("GET /api/v1/sessions/s1/ws?ticket=abc.def-123&x=1 101 Switching Protocols"),
    ).toBe(`GET /api/v1/sessions/s1/ws?ticket=${REDACTED}&x=1 101 Switching Protocols`);
    expect(redactUrlCredentials("GET /ws?x=1&ticket=abcdefgh")).toBe(`GET /ws?x=1&ticket=${REDACTED}`);
  });

  it("never lets a presigned token or ticket through, wherever it sits in the line", () => {
    fc.assert(
      fc.property(
        method,
        credential,
        credential,
        fc.string(),
        fc.string(),
        (verb, token, ticket, before, after) => {
          const suffix = ` 200 OK ${after.replace(/\S/g, "x")}`;
          const line = `${before} ${verb} https://edge.example/api/v1/documents/presigned/${token}?download=1${suffix}\t/ws?ticket=${ticket}${suffix}`;
          const out = redactUrlCredentials(line);
          expect(out).not.toContain(`presigned/${token}`);
          expect(out).not.toContain(`ticket=${ticket}`);
          expect(out).toContain(`presigned/${REDACTED}?download=1`);
          expect(out).toContain(`ticket=${REDACTED}`);
        },
      ),
    );
  });

  it("leaves a line without URL credentials unchanged", () => {
    fc.assert(
      fc.property(fc.string(), (line) => {
        fc.pre(!line.includes("/presigned/") && !line.includes("ticket="));
        expect(redactUrlCredentials(line)).toBe(line);
      }),
    );
  });

  it("keeps the edge's own request log line, which carries the route pattern, as it is", () => {
    const line = '{"msg":"request","route":"/api/v1/documents/presigned/:token","status":200}';
    expect(redactUrlCredentials(line)).toBe(line);
  });
});
