import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CredentialResponseSchema,
  formatCredentialPath,
  ProblemError,
  ProblemSchema,
  ProvisionRequestSchema,
  parseCredentialPath,
  problemResponse,
  validationProblem,
} from "../src/index.ts";

const segmentArb = fc
  .string({ minLength: 1, maxLength: 40 })
  .filter((s) => !s.includes("/") && !/\p{Cc}/u.test(s) && s.trim() === s);

describe("credential paths", () => {
  it("round-trips any three valid segments", () => {
    fc.assert(
      fc.property(segmentArb, segmentArb, segmentArb, (vault, item, field) => {
        const text = formatCredentialPath({ vault, item, field });
        expect(parseCredentialPath(text)).toEqual({ vault, item, field });
      }),
    );
  });

  it("keeps titles with '+', quotes and spaces intact", () => {
    expect(parseCredentialPath('services/say "hi" + more/api key')).toEqual({
      vault: "services",
      item: 'say "hi" + more',
      field: "api key",
    });
  });

  it("rejects anything but exactly three non-empty segments, never throwing", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 100 }), (text) => {
        const parsed = parseCredentialPath(text);
        if (parsed) expect(formatCredentialPath(parsed)).toBe(text);
      }),
    );
    for (const bad of ["", "a/b", "a/b/c/d", "a//c", "/b/c", "a/b/", " a/b/c", "a/b\n/c"]) {
      expect(parseCredentialPath(bad)).toBeUndefined();
    }
  });
});

describe("provision request schema", () => {
  const valid = { service: "chittyid", credentialPath: "services/chittyid/service_token", purpose: "boot" };

  it("accepts a minimal request and a sealed one", () => {
    expect(ProvisionRequestSchema.parse(valid)).toEqual(valid);
    const sealed = { ...valid, recipientPublicKey: { kty: "EC", crv: "P-256", x: "abc", y: "def" } };
    expect(ProvisionRequestSchema.parse(sealed)).toEqual(sealed);
  });

  it("refuses a private key, unknown members and bad paths", () => {
    const withPrivate = {
      ...valid,
      recipientPublicKey: { kty: "EC", crv: "P-256", x: "a", y: "b", d: "secret" },
    };
    expect(ProvisionRequestSchema.safeParse(withPrivate).success).toBe(false);
    expect(ProvisionRequestSchema.safeParse({ ...valid, extra: 1 }).success).toBe(false);
    expect(ProvisionRequestSchema.safeParse({ ...valid, credentialPath: "services/chittyid" }).success).toBe(
      false,
    );
  });

  it("accepts a public key exactly as WebCrypto exports it (key_ops, ext) and with use/alg/kid", async () => {
    const pair = await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"]);
    const exported = await crypto.subtle.exportKey("jwk", pair.publicKey);
    expect(exported).toMatchObject({ key_ops: [], ext: true });
    const sealed = { ...valid, recipientPublicKey: exported };
    expect(ProvisionRequestSchema.safeParse(sealed).success).toBe(true);
    const annotated = { ...exported, use: "enc", alg: "ECDH-ES", kid: "laptop-1", key_ops: ["deriveBits"] };
    expect(ProvisionRequestSchema.safeParse({ ...valid, recipientPublicKey: annotated }).success).toBe(true);
  });

  it("refuses members that say the key is not for ECDH-ES key agreement, naming the member", async () => {
    const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
      "sign",
      "verify",
    ]);
    const signingKey = await crypto.subtle.exportKey("jwk", pair.publicKey);
    expect(signingKey.key_ops).toEqual(["verify"]);
    const base = { kty: "EC", crv: "P-256", x: "abc", y: "def" };
    for (const [member, key] of [
      ["key_ops", signingKey],
      ["use", { ...base, use: "sig" }],
      ["alg", { ...base, alg: "ECDH-ES+A256KW" }],
      ["key_ops", { ...base, key_ops: ["deriveBits", "deriveBits"] }],
      ["ext", { ...base, ext: "yes" }],
    ] as const) {
      const result = ProvisionRequestSchema.safeParse({ ...valid, recipientPublicKey: key });
      expect(result.success).toBe(false);
      expect(result.error?.issues.map((issue) => issue.path.join("."))).toContain(
        `recipientPublicKey.${member}`,
      );
    }
  });

  it("accepts exactly the key_ops lists made of key-agreement operations (property)", () => {
    const agreement = ["deriveKey", "deriveBits", "encrypt", "wrapKey"];
    const all = [...agreement, "sign", "verify", "decrypt", "unwrapKey"];
    fc.assert(
      fc.property(fc.uniqueArray(fc.constantFrom(...all)), (ops) => {
        const key = { kty: "EC", crv: "P-256", x: "abc", y: "def", key_ops: ops };
        const accepted = ProvisionRequestSchema.safeParse({ ...valid, recipientPublicKey: key }).success;
        expect(accepted).toBe(ops.every((op) => agreement.includes(op)));
      }),
    );
  });

  it("describes a plain and a sealed response, never both", () => {
    const lease = { id: "l1", issuedAt: "2026-01-01T00:00:00.000Z", expiresAt: "2026-01-01T00:15:00.000Z" };
    expect(
      CredentialResponseSchema.safeParse({ credentialPath: "a/b/c", sealed: false, value: "v", lease })
        .success,
    ).toBe(true);
    expect(
      CredentialResponseSchema.safeParse({ credentialPath: "a/b/c", sealed: true, value: "v", lease })
        .success,
    ).toBe(false);
  });
});

describe("problems", () => {
  it("renders a ProblemError as RFC 9457 problem+json", async () => {
    const error = new ProblemError({ status: 403, code: "policy_denied", title: "Forbidden", detail: "no" });
    const response = problemResponse(error.toProblem("req-1"));
    expect(response.status).toBe(403);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    const body = ProblemSchema.parse(await response.json());
    expect(body).toMatchObject({ status: 403, code: "policy_denied", requestId: "req-1", detail: "no" });
  });

  it("lists validation issues by path", () => {
    const result = ProvisionRequestSchema.safeParse({ service: "", purpose: 3 });
    if (result.success) throw new Error("expected failure");
    const problem = validationProblem(result.error).toProblem();
    expect(problem.status).toBe(400);
    expect(problem.errors?.map((e) => e.path)).toEqual(
      expect.arrayContaining(["service", "purpose", "credentialPath"]),
    );
  });
});
