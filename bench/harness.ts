/**
 * A closed-loop load harness: `concurrency` workers call `operation` back to back for a fixed time.
 * Why not autocannon: the baseline is an SDK call, not an HTTP request autocannon can replay, and
 * every origin request needs a fresh signature; one harness for both sides keeps the ratio fair.
 */
export interface Measurement {
  name: string;
  requests: number;
  errors: number;
  seconds: number;
  throughput: number;
  p50: number;
  p95: number;
  p99: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)]!;
}

export async function measure(
  name: string,
  operation: () => Promise<void>,
  options: { concurrency: number; durationMs: number; warmupMs: number },
): Promise<Measurement> {
  const runFor = async (ms: number, record: boolean) => {
    const latencies: number[] = [];
    let errors = 0;
    const deadline = performance.now() + ms;
    const worker = async () => {
      while (performance.now() < deadline) {
        const started = performance.now();
        try {
          await operation();
          if (record) latencies.push(performance.now() - started);
        } catch {
          errors++;
        }
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: options.concurrency }, worker));
    return { latencies, errors, seconds: (performance.now() - started) / 1000 };
  };
  await runFor(options.warmupMs, false);
  const { latencies, errors, seconds } = await runFor(options.durationMs, true);
  latencies.sort((a, b) => a - b);
  return {
    name,
    requests: latencies.length,
    errors,
    seconds,
    throughput: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
  };
}

export function formatTable(rows: Measurement[]): string {
  const header = ["case", "req/s", "p50 ms", "p95 ms", "p99 ms", "requests", "errors"];
  const body = rows.map((r) => [
    r.name,
    r.throughput.toFixed(0),
    r.p50.toFixed(2),
    r.p95.toFixed(2),
    r.p99.toFixed(2),
    String(r.requests),
    String(r.errors),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(header), ...body.map(line)].join("\n");
}
