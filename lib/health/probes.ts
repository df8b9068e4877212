import type { Clock } from "../clock/clock.ts";

/** One dependency check: resolves when the dependency answered correctly, throws otherwise. */
export interface Probe {
  name: string;
  check(signal: AbortSignal): Promise<void>;
}

export interface ProbeResult {
  name: string;
  reachable: boolean;
  latencyMs: number;
  error?: string;
}

export interface HealthReport {
  status: "ok" | "degraded";
  checkedAt: string;
  dependencies: ProbeResult[];
}

/**
 * Runs every probe concurrently, each bounded by `timeoutMs`, and reports reachability with
 * latency. A probe that hangs is reported unreachable when its timeout fires.
 */
export async function runProbes(
  probes: Probe[],
  clock: Clock,
  timeoutMs = 3_000,
): Promise<HealthReport> {
  const results = await Promise.all(
    probes.map(async (probe): Promise<ProbeResult> => {
      const controller = new AbortController();
      const startedMs = clock.nowMs();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          controller.abort();
          reject(new Error(`no answer within ${timeoutMs} ms`));
        }, timeoutMs);
      });
      try {
        await Promise.race([probe.check(controller.signal), timeout]);
        return { name: probe.name, reachable: true, latencyMs: clock.nowMs() - startedMs };
      } catch (error) {
        return {
          name: probe.name,
          reachable: false,
          latencyMs: clock.nowMs() - startedMs,
          error: error instanceof Error ? error.message : String(error),
        };
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return {
    status: results.every((r) => r.reachable) ? "ok" : "degraded",
    checkedAt: new Date(clock.nowMs()).toISOString(),
    dependencies: results,
  };
}
