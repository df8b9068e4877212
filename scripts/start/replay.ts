/**
 * Sends the workload to `POST /v1/events` through the producer client (batching, gzip, retries
 * that keep event ids) with real concurrency, in event-time order. Under `--chaos` it also loses
 * responses after the Worker answered (the client retries the same batch), stops ClickHouse for a
 * while, restarts the Worker mid-stream, and at the end resends a random tenth of the events.
 */
import { MeterlineClient } from "../../client/meterline-client.ts";
import type { DemoEnvironment } from "./environment.ts";
import { ProgressBar } from "./progress.ts";
import { seededRandom } from "./trace.ts";
import type { DemoEvent } from "./workload.ts";

export interface ReplayResult {
  /** Events submitted, resends included. */
  sent: number;
  /** Distinct events meterline accepted (counted from responses, lost ones included). */
  accepted: number;
  duplicates: number;
  rejected: number;
  rejections: { id: string | null; code: string; detail: string }[];
  failedBatches: number;
  seconds: number;
  eventsPerSecond: number;
  chaos: {
    lostResponses: number;
    lostResponseEvents: number;
    resent: number;
    workerRestarts: number;
    clickhouseOutageSeconds: number;
  };
}

interface Summary {
  accepted: number;
  duplicates: number;
  rejected: { id: string | null; code: string; detail: string }[];
}

export async function replay(
  env: DemoEnvironment,
  events: DemoEvent[],
  options: { chaos: boolean; log: (line: string) => void },
): Promise<ReplayResult> {
  const random = seededRandom(4242);
  const chaos = {
    lostResponses: 0,
    lostResponseEvents: 0,
    resent: 0,
    workerRestarts: 0,
    clickhouseOutageSeconds: 0,
  };
  let lostAccepted = 0;
  /** Loses the answer of ~4 % of requests after the Worker handled them: the client retries. */
  const chaosFetch: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    if (options.chaos && response.status === 202 && random() < 0.04) {
      const summary = (await response.json()) as Summary;
      chaos.lostResponses += 1;
      chaos.lostResponseEvents += summary.accepted + summary.duplicates + summary.rejected.length;
      lostAccepted += summary.accepted;
      throw new TypeError("fetch failed: response lost (chaos)");
    }
    return response;
  };
  let totals = { accepted: 0, duplicates: 0, rejected: 0, failed: 0 };
  const rejections: ReplayResult["rejections"] = [];
  const progress = new ProgressBar("replay", events.length, "events");
  const client = new MeterlineClient({
    baseUrl: env.url,
    apiKey: env.adminKey,
    maxBatchEvents: 500,
    concurrency: 6,
    fetch: chaosFetch,
    baseBackoffMs: 250,
    maxBackoffMs: 4_000,
    maxRetries: 12,
    // The samples of one deployment's vCPU series must arrive in order; tokens need no order.
    orderKey: (event) => event.properties?.deployment as string | undefined,
    onBatch: (result) => {
      totals = {
        accepted: totals.accepted + result.accepted,
        duplicates: totals.duplicates + result.duplicates,
        rejected: totals.rejected + result.rejected.length,
        failed: totals.failed + (result.failure ? 1 : 0),
      };
      rejections.push(
        ...result.rejected.map((r) => ({ id: r.id, code: r.code, detail: r.detail })),
      );
      progress.tick(result.events);
    },
  });

  const startedMs = performance.now();
  const at = (fraction: number) => Math.floor(events.length * fraction);
  const chaosPoints = options.chaos
    ? new Map<number, () => Promise<void>>([
        [
          at(0.25),
          async () => {
            progress.note("chaos: ClickHouse stopped");
            await env.stack.stopService("clickhouse");
            const stoppedMs = Date.now();
            setTimeout(() => {
              void env.stack.startService("clickhouse").then(() => {
                chaos.clickhouseOutageSeconds = Math.round((Date.now() - stoppedMs) / 1000);
                progress.note("chaos: ClickHouse back");
              });
            }, 15_000);
          },
        ],
        [
          at(0.6),
          async () => {
            progress.note("chaos: restarting the Worker");
            await client.flush();
            await env.restartWorker();
            chaos.workerRestarts += 1;
            progress.note("chaos: Worker restarted");
          },
        ],
      ])
    : new Map<number, () => Promise<void>>();

  for (const [i, event] of events.entries()) {
    const hook = chaosPoints.get(i);
    if (hook) {
      await hook();
    }
    const { timeMs: _timeMs, ...wire } = event;
    await client.track(wire);
  }
  await client.flush();
  if (options.chaos) {
    const resend = events.filter(() => random() < 0.1);
    chaos.resent = resend.length;
    progress.note(`chaos: resending ${resend.length} events`);
    for (const event of resend) {
      const { timeMs: _timeMs, ...wire } = event;
      await client.track(wire);
    }
    await client.flush();
  }
  progress.finish();
  // A restarted ClickHouse must be back before the run goes on.
  while (!env.stack.services.has("clickhouse")) {
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const seconds = (performance.now() - startedMs) / 1000;
  return {
    sent: events.length + chaos.resent,
    accepted: totals.accepted + lostAccepted,
    duplicates: totals.duplicates - lostAccepted,
    rejected: totals.rejected,
    rejections,
    failedBatches: totals.failed,
    seconds,
    eventsPerSecond: (events.length + chaos.resent) / seconds,
    chaos,
  };
}
