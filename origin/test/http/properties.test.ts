import {
  isJsonMediaType,
  MemoryNonceStore,
  ProblemError,
  parseJsonBytes,
  readRequestLimited,
  type SigningKey,
} from "@chittyconnect/contract";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { createOriginApp, type OriginApp } from "../../src/app.ts";
import { resolveRequestId } from "../../src/logger.ts";
import { createMetrics } from "../../src/metrics.ts";
import { signedInit, signingKey } from "../helpers/signed-fetch.ts";
import { captureLogger, InMemoryCredentials, PROVISION_BODY, SIGNING_SECRET, testConfig } from "./harness.ts";

const SANE_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const ownerArbitrary = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$/);

describe("request id", () => {
  it("always yields a sane id and keeps sane ones unchanged", () => {
    fc.assert(
      fc.property(fc.option(fc.string({ maxLength: 200 })), (header) => {
        const id = resolveRequestId(header);
        expect(id).toMatch(SANE_ID);
        if (header && SANE_ID.test(header)) expect(id).toBe(header);
      }),
    );
  });
});

describe("content type", () => {
  it("accepts application/json in any case with any parameters and nothing else", () => {
    const casing = fc.constantFrom("application/json", "APPLICATION/JSON", "Application/Json");
    const params = fc.array(fc.stringMatching(/^[a-z]{1,8}=[a-z0-9-]{1,8}$/), { maxLength: 3 });
    fc.assert(
      fc.property(casing, params, (type, list) => {
        expect(isJsonMediaType([type, ...list].join("; "))).toBe(true);
      }),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (header) => {
        fc.pre(header.split(";", 1)[0]?.trim().toLowerCase() !== "application/json");
        expect(isJsonMediaType(header)).toBe(false);
      }),
    );
  });
});

describe("JSON body parsing", () => {
  it("round-trips any JSON value and answers any other bytes with a 400 problem", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = JSON.stringify(value);
        expect(parseJsonBytes(new TextEncoder().encode(text))).toEqual(JSON.parse(text));
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          parseJsonBytes(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(ProblemError);
          expect((error as ProblemError).status).toBe(400);
        }
      }),
    );
  });
});

describe("bounded body reader", () => {
  it("returns the exact bytes up to the limit and refuses anything longer with 413", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 400 }), { maxLength: 8 }),
        fc.integer({ min: 1, max: 2000 }),
        async (chunks, limit) => {
          const stream = new ReadableStream<Uint8Array>({
            start(controller) {
              for (const chunk of chunks) controller.enqueue(chunk);
              controller.close();
            },
          });
          const request = new Request("http://127.0.0.1/", {
            method: "POST",
            body: stream,
            duplex: "half",
          } as RequestInit);
          const expected = Buffer.concat(chunks);
          if (expected.byteLength > limit) {
            await expect(readRequestLimited(request, limit)).rejects.toMatchObject({ status: 413 });
          } else {
            expect(Buffer.from(await readRequestLimited(request, limit))).toEqual(expected);
          }
        },
      ),
    );
  });
});

describe("signature checks through the app", () => {
  let app: OriginApp;
  let key: SigningKey;

  beforeAll(async () => {
    key = await signingKey(SIGNING_SECRET);
    app = await createOriginApp({
      config: testConfig(),
      logger: captureLogger().logger,
      metrics: createMetrics(),
      credentials: new InMemoryCredentials(),
      nonces: new MemoryNonceStore(),
    });
  });

  it("authenticates any correctly signed body and owner, and rejects any changed byte", async () => {
    await fc.assert(
      fc.asyncProperty(
        ownerArbitrary,
        fc.string({ minLength: 1, maxLength: 150 }),
        fc.nat(),
        async (owner, purpose, flipAt) => {
          const target = "http://origin.internal/v1/credentials/provision";
          const init = await signedInit(target, { key, owner, body: { ...PROVISION_BODY, purpose } });
          const bytes = new TextEncoder().encode(init.body);
          const valid = await app.request(target, { ...init, body: bytes });
          expect([200, 400]).toContain(valid.status);

          const resigned = await signedInit(target, { key, owner, body: { ...PROVISION_BODY, purpose } });
          const tampered = new TextEncoder().encode(resigned.body);
          const index = flipAt % tampered.byteLength;
          tampered[index] = (tampered[index] ?? 0) ^ 0x01;
          const rejected = await app.request(target, { ...resigned, body: tampered });
          expect(rejected.status).toBe(401);
        },
      ),
      { numRuns: 60 },
    );
  });
});
