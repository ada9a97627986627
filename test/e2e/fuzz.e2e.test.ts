import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prepareContext } from "../../scripts/fuzz/context.ts";
import type { FuzzContext } from "../../scripts/fuzz/requests.ts";
import { formatReport, runFuzz } from "../../scripts/fuzz/run.ts";
import { type RunningStack, startStack } from "../support/stack.ts";

/** The fuzz CI runs: short, seeded, through the whole local stack (edge → nginx → origin → Connect). */
const CI_REQUESTS = 2000;
const CI_SEED = 20261129;

let stack: RunningStack;
let context: FuzzContext;

beforeAll(async () => {
  stack = await startStack();
  context = await prepareContext(stack.edgeUrl, stack.adminToken);
  for (const token of context.tokens) stack.track(token);
}, 200_000);

afterAll(async () => {
  await stack?.stop();
});

/** A chunked body without Content-Length, as a streamed fetch body is sent. */
function streamed(bytes: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= bytes) return controller.close();
      const chunk = new Uint8Array(Math.min(16_384, bytes - sent)).fill(0x7b);
      sent += chunk.byteLength;
      controller.enqueue(chunk);
    },
  });
}

describe("fuzzing the edge through the local stack", () => {
  it("refuses streamed over-limit bodies with 413 and keeps every keep-alive connection", async () => {
    const [token] = context.tokens;
    const statuses: Record<number, number> = {};
    const dropped: string[] = [];
    for (let round = 0; round < 10; round++) {
      await Promise.all(
        Array.from({ length: 16 }, async (_, index) => {
          const mint = index % 2 === 0;
          try {
            const response = await fetch(
              `${stack.edgeUrl}/api/v1/${mint ? "admin/tokens" : "credentials/provision"}`,
              {
                method: "POST",
                headers: {
                  authorization: `Bearer ${mint ? stack.adminToken : token}`,
                  "content-type": "application/json",
                },
                body: streamed(1024 * 1024),
                duplex: "half",
              } as RequestInit,
            );
            await response.text();
            statuses[response.status] = (statuses[response.status] ?? 0) + 1;
          } catch (error) {
            dropped.push(String((error as { cause?: { code?: string } }).cause?.code ?? error));
          }
        }),
      );
    }
    expect(dropped).toEqual([]);
    expect(statuses).toEqual({ 413: 160 });
    // The pooled connections still serve ordinary requests.
    const after = await fetch(`${stack.edgeUrl}/api/v1/credentials/audit?limit=1`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(after.status).toBe(200);
  }, 300_000);

  it(`${CI_REQUESTS} generated requests: no 5xx, no non-problem error, no trace, no secret, no drop`, async () => {
    const report = await runFuzz({
      target: stack.edgeUrl,
      context,
      secrets: [
        ...Object.values(stack.secrets() as Record<string, string>),
        stack.adminToken,
        ...context.tokens,
      ],
      requests: CI_REQUESTS,
      seed: CI_SEED,
      concurrency: 16,
    });
    const summary = formatReport(report);
    expect(report.requests).toBe(CI_REQUESTS);
    expect(report.serverErrors, summary).toBe(0);
    expect(report.nonProblem, summary).toBe(0);
    expect(report.stackTraces, summary).toBe(0);
    expect(report.secretsInAnswers, summary).toBe(0);
    expect(report.dropped, summary).toBe(0);
    expect(report.timeouts, summary).toBe(0);
    // Not vacuous: the run reached the credential routes and was refused in many ways.
    expect(report.byStatus[200] ?? 0, summary).toBeGreaterThan(0);
    expect(report.byStatus[401] ?? 0, summary).toBeGreaterThan(0);
    expect(Object.keys(report.byStatus).length, summary).toBeGreaterThanOrEqual(5);
    expect(stack.leaks()).toEqual([]);
  }, 600_000);
});
