/**
 * CPU profile of the Worker under ingestion load (run: `npx node bench/profile.ts [batched|single]`).
 * Starts the benchmark environment with the V8 inspector open, records a profile of workerd's
 * isolate over 10 s of load, and prints the functions with the most self time. A diagnosis tool
 * for the ingestion benchmark; not part of `npm run bench`.
 */

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startStack, workerEnv } from "../local-stack/stack.ts";
import { migrateClickHouse } from "../migrations/clickhouse.ts";
import { migratePostgres } from "../migrations/postgres.ts";
import { startMiniflareWorker } from "../scripts/miniflare-worker.ts";
import { BENCH_ADMIN_KEY, ROOT } from "./support/environment.ts";
import { runLoad } from "./support/load.ts";
import { BENCH_METERS, benchAccountId, seedBenchCatalogue } from "./support/seed.ts";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount: number;
  children?: number[];
}

const scenario = process.argv[2] ?? "batched";
const inspectorPort = 9229 + Math.floor(Math.random() * 500);
const dataDir = mkdtempSync(join(tmpdir(), "meterline-profile-"));
const stack = await startStack({ dataDir, ephemeral: true });
await migratePostgres({
  url: stack.info.postgres.appUrl,
  wsProxy: stack.info["neon-proxy"].wsProxy,
});
await migrateClickHouse({ ...stack.info.clickhouse, database: "meterline" });
await seedBenchCatalogue(stack.info.postgres.appUrl, 1000);
const worker = await startMiniflareWorker({
  root: ROOT,
  env: { ...workerEnv(stack.info, BENCH_ADMIN_KEY), LOG_LEVEL: "warn" },
  persistDir: join(dataDir, "worker"),
  inspectorPort,
});
const headers = { authorization: `Bearer ${BENCH_ADMIN_KEY}`, "content-type": "application/json" };
const body = (n: number, tag: string) =>
  scenario === "single"
    ? JSON.stringify({
        id: `${tag}-${n}`,
        account: benchAccountId((n * 7919) % 1000),
        meter: BENCH_METERS.tokens,
        value: "5",
      })
    : JSON.stringify(
        Array.from({ length: 1000 }, (_, i) => ({
          id: `${tag}-${n}-${i}`,
          account: benchAccountId((n * 10 + Math.floor(i / 100)) % 1000),
          meter: BENCH_METERS.tokens,
          value: "100",
          properties: { model: "m", region: "eu" },
        })),
      );
// Warm every meter.
for (let n = 0; n < 100; n += 1) {
  await fetch(`${worker.url}/v1/events`, {
    method: "POST",
    headers,
    body: JSON.stringify(
      Array.from({ length: 10 }, (_, a) => ({
        id: `w-${n}-${a}`,
        account: benchAccountId(n * 10 + a),
        meter: BENCH_METERS.requests,
      })),
    ),
  });
}
const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json()) as {
  webSocketDebuggerUrl: string;
  title: string;
}[];
const target = targets.find((t) => t.title.includes("meterline")) ?? targets[0];
if (!target) {
  throw new Error("no inspector target");
}
const ws = new WebSocket(target.webSocketDebuggerUrl);
await new Promise((resolve) => ws.addEventListener("open", resolve, { once: true }));
let nextId = 1;
const pending = new Map<number, (value: unknown) => void>();
ws.addEventListener("message", (event) => {
  const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
  if (message.id !== undefined) {
    pending.get(message.id)?.(message.result);
  }
});
const send = (method: string, params: Record<string, unknown> = {}) =>
  new Promise<unknown>((resolve) => {
    const id = nextId++;
    pending.set(id, resolve);
    ws.send(JSON.stringify({ id, method, params }));
  });
await send("Profiler.enable");
await send("Profiler.setSamplingInterval", { interval: 200 });
await send("Profiler.start");
const result = await runLoad({
  connections: scenario === "single" ? 24 : 6,
  durationMs: 10_000,
  request: (n) => ({
    url: `${worker.url}/v1/events`,
    init: { method: "POST", headers, body: body(n, "p") },
  }),
});
const { profile } = (await send("Profiler.stop")) as {
  profile: { nodes: ProfileNode[]; samples: number[] };
};
console.log(
  `${scenario}: ${result.requestsPerSecond.toFixed(1)} req/s p50 ${result.p50Ms.toFixed(1)} ms`,
);
const self = new Map<string, number>();
let total = 0;
for (const node of profile.nodes) {
  const name = `${node.callFrame.functionName || "(anonymous)"} ${node.callFrame.url.split("/").pop()}:${node.callFrame.lineNumber}`;
  self.set(name, (self.get(name) ?? 0) + node.hitCount);
  total += node.hitCount;
}
const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, 40);
for (const [name, hits] of top) {
  console.log(`${((hits / total) * 100).toFixed(1).padStart(5)}%  ${name}`);
}
ws.close();
await worker.stop();
await stack.stop();
