/**
 * A closed-loop HTTP load generator: `connections` concurrent loops, each sending the next request
 * as soon as the previous answered, for `durationMs`. Reports throughput and latency percentiles.
 */
export interface LoadResult {
  requests: number;
  errors: number;
  statusCounts: Record<string, number>;
  seconds: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface LoadOptions {
  connections: number;
  durationMs: number;
  /** Builds request number `n` (called once per request). */
  request: (n: number) => { url: string; init: RequestInit };
  /** Status that counts as success. */
  okStatus?: number;
  onProgress?: (done: number) => void;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) {
    return 0;
  }
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)] ?? 0;
}

/** Runs the load and returns its figures. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const latencies: number[] = [];
  const statusCounts: Record<string, number> = {};
  let next = 0;
  let errors = 0;
  const startedMs = performance.now();
  const endMs = startedMs + options.durationMs;
  const okStatus = options.okStatus ?? 202;
  async function loop(): Promise<void> {
    while (performance.now() < endMs) {
      const n = next;
      next += 1;
      const { url, init } = options.request(n);
      const t0 = performance.now();
      try {
        const response = await fetch(url, init);
        await response.arrayBuffer();
        const key = String(response.status);
        statusCounts[key] = (statusCounts[key] ?? 0) + 1;
        if (response.status !== okStatus) {
          errors += 1;
        }
      } catch {
        errors += 1;
        statusCounts.network = (statusCounts.network ?? 0) + 1;
      }
      latencies.push(performance.now() - t0);
      if (latencies.length % 200 === 0) {
        options.onProgress?.(latencies.length);
      }
    }
  }
  await Promise.all(Array.from({ length: options.connections }, () => loop()));
  const seconds = (performance.now() - startedMs) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    errors,
    statusCounts,
    seconds,
    requestsPerSecond: latencies.length / seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies[latencies.length - 1] ?? 0,
  };
}
