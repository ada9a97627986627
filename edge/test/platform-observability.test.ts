import { afterEach, describe, expect, it, vi } from "vitest";
import { ownerHash } from "../src/platform/request-log.ts";
import { bytesOf, jsonInit, party, upload } from "./documents-helpers.ts";
import { fetchSettled } from "./platform-helpers.ts";

interface Line {
  msg?: string;
  requestId?: string;
  owner?: string;
  routeClass?: string;
  route?: string | null;
  method?: string;
  status?: number;
  latencyMs?: number;
  bytesIn?: number;
  bytesOut?: number;
}

/** Every console line the Worker writes while `work` runs, as text. */
async function captureConsole(work: () => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  const record = (...args: unknown[]) => {
    lines.push(args.map(String).join(" "));
  };
  for (const level of ["log", "info", "warn", "error"] as const) {
    vi.spyOn(console, level).mockImplementation(record);
  }
  await work();
  vi.restoreAllMocks();
  return lines;
}

function requestLines(lines: string[]): Line[] {
  return lines
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Line)
    .filter((line) => line.msg === "request");
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("request logs", () => {
  it("write one line per request with the route pattern, never a token, header or query", async () => {
    const alice = await party();
    const doc = await upload(alice, bytesOf("logged bytes"));
    const presigned = await fetchSettled(
      `/api/v1/documents/${doc.id}/presign`,
      jsonInit("POST", { expiresIn: 600 }, alice.auth),
    );
    const path = new URL(((await presigned.json()) as { url: string }).url).pathname;
    const presignToken = path.split("/").pop() ?? "";
    const secretQuery = "q=needle-in-the-query";
    const requests: [string, RequestInit][] = [
      [`/api/v1/documents?${secretQuery}`, { headers: { ...alice.auth, "x-request-id": "req-log-000001" } }],
      [path, {}],
      [
        `/api/v1/documents/${doc.id}`,
        {
          method: "PATCH",
          headers: { ...alice.auth, "content-type": "application/json", "content-length": "1" },
          body: "{",
        },
      ],
      ["/api/v1/documents", { headers: { authorization: "Bearer cc_wrong-token-value" } }],
      ["/api/v1/nope", { method: "GET", headers: alice.auth }],
    ];
    const lines = await captureConsole(async () => {
      for (const [p, init] of requests) await fetchSettled(p, init);
    });
    const logged = requestLines(lines);
    expect(logged).toHaveLength(requests.length);
    const [search, download, patch, unauthorized, unknown] = logged as [Line, Line, Line, Line, Line];
    expect(search).toMatchObject({
      requestId: "req-log-000001",
      owner: alice.owner,
      routeClass: "documents",
      route: "/api/v1/documents",
      method: "GET",
      status: 200,
    });
    expect(typeof search.latencyMs).toBe("number");
    expect(search.bytesOut).toBeUndefined();
    expect(download).toMatchObject({
      route: "/api/v1/documents/presigned/:token",
      routeClass: "documents",
      status: 200,
      bytesOut: "logged bytes".length,
    });
    expect(download.owner).toBeUndefined();
    expect(patch).toMatchObject({ route: "/api/v1/documents/:id", status: 400, method: "PATCH", bytesIn: 1 });
    expect(unauthorized).toMatchObject({ status: 401, routeClass: "documents" });
    expect(unauthorized.owner).toBeUndefined();
    expect(unknown).toMatchObject({ status: 404, route: null, routeClass: "other" });
    const all = lines.join("\n");
    for (const secret of [
      alice.token,
      presignToken,
      "cc_wrong-token-value",
      "needle-in-the-query",
      "Bearer",
    ]) {
      expect(all).not.toContain(secret);
    }
  });
});

describe("Analytics Engine", () => {
  it("gets one data point per request, indexed by a hash of the owner", async () => {
    const points: AnalyticsEngineDataPoint[] = [];
    const ANALYTICS: AnalyticsEngineDataset = { writeDataPoint: (point) => points.push(point ?? {}) };
    const alice = await party();
    await fetchSettled("/api/v1/documents/stats", { headers: alice.auth }, { ANALYTICS });
    await fetchSettled("/health", {}, { ANALYTICS });
    await fetchSettled("/health", { method: "DELETE" }, { ANALYTICS });
    expect(points).toHaveLength(3);
    const [stats, health, refused] = points as [
      AnalyticsEngineDataPoint,
      AnalyticsEngineDataPoint,
      AnalyticsEngineDataPoint,
    ];
    expect(stats.blobs).toEqual(["documents", "/api/v1/documents/stats", "2xx", "GET"]);
    expect(stats.indexes).toEqual([await ownerHash(alice.owner)]);
    expect(stats.indexes?.[0]).not.toContain(alice.owner);
    expect(stats.doubles).toHaveLength(4);
    expect(stats.doubles?.[3]).toBe(200);
    expect(health.indexes).toEqual(["anonymous"]);
    expect(health.blobs?.slice(0, 3)).toEqual(["other", "/health", "2xx"]);
    expect(refused.blobs?.slice(0, 3)).toEqual(["other", "(unmatched)", "4xx"]);
    expect(JSON.stringify(points)).not.toContain(alice.token);
  });

  it("never fails a request when the dataset throws", async () => {
    const ANALYTICS: AnalyticsEngineDataset = {
      writeDataPoint: () => {
        throw new Error("dataset unavailable");
      },
    };
    const lines = await captureConsole(async () => {
      const response = await fetchSettled("/health", {}, { ANALYTICS });
      expect(response.status).toBe(200);
    });
    expect(lines.some((line) => line.includes("analytics write failed"))).toBe(true);
    expect(lines.join("\n")).not.toContain("dataset unavailable");
  });
});
