/**
 * Insert throughput of the local ClickHouse stand-in: client-web through the HTTP server
 * (zero-copy and inline-SQL paths) against chdb called directly in this process.
 *
 *   node local-stack/clickhouse/bench.ts [--rounds-1k 20] [--rounds-10k 10]
 *
 * Prints one Markdown table. Client, server and engine share the machine's cores, so the
 * figures describe this machine and the stand-in, not ClickHouse Cloud.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createClient } from "@clickhouse/client-web";
import { spawnService } from "../process.ts";
import type { ClickHouseInfo } from "../stack.ts";

const { values: options } = parseArgs({
  options: {
    "rounds-1k": { type: "string", default: "20" },
    "rounds-10k": { type: "string", default: "10" },
  },
});
const plans = [
  { batchRows: 1_000, rounds: Number(options["rounds-1k"]) },
  { batchRows: 10_000, rounds: Number(options["rounds-10k"]) },
];

const TABLE_DDL = `CREATE TABLE IF NOT EXISTS usage_bench (
  event_id String, org_id String, customer_id String, meter LowCardinality(String),
  quantity Float64, unit LowCardinality(String), ts DateTime64(3, 'UTC'),
  region LowCardinality(String), idempotency_key String, props String
) ENGINE = ReplacingMergeTree ORDER BY (org_id, event_id)`;

let sequence = 0;
function batch(rows: number) {
  return Array.from({ length: rows }, () => {
    sequence += 1;
    return {
      event_id: `evt_${sequence}`,
      org_id: `org_${sequence % 50}`,
      customer_id: `cus_${sequence % 5000}`,
      meter: sequence % 3 === 0 ? "api_calls" : "storage_gb",
      quantity: (sequence % 97) / 4,
      unit: "unit",
      ts: "2026-03-01 12:00:00.000",
      region: "eu-west",
      idempotency_key: `idem_${sequence}`,
      props: '{"plan":"pro"}',
    };
  });
}

/**
 * Runs `insert` on fresh batches, after one warm-up batch. `insert` may return the engine's own
 * time for the batch (from `X-ClickHouse-Summary`), to separate it from client and HTTP time.
 */
async function measure(
  batchRows: number,
  rounds: number,
  insert: (rows: object[]) => Promise<number | undefined>,
) {
  await insert(batch(batchRows));
  const batches = Array.from({ length: rounds }, () => batch(batchRows));
  let engineMs: number | undefined;
  const startedMs = performance.now();
  for (const rows of batches) {
    const ms = await insert(rows);
    engineMs = ms === undefined ? undefined : (engineMs ?? 0) + ms;
  }
  const elapsedMs = performance.now() - startedMs;
  return {
    rowsPerSecond: (batchRows * rounds * 1000) / elapsedMs,
    msPerBatch: elapsedMs / rounds,
    engineMsPerBatch: engineMs === undefined ? undefined : engineMs / rounds,
  };
}

const dataDir = mkdtempSync(join(tmpdir(), "meterline-ch-bench-"));
const results: {
  target: string;
  batchRows: number;
  rowsPerSecond: number;
  msPerBatch: number;
  engineMsPerBatch: number | undefined;
}[] = [];
const service = await spawnService<ClickHouseInfo>({
  name: "clickhouse-bench",
  script: fileURLToPath(new URL("./main.ts", import.meta.url)),
  args: ["--data", join(dataDir, "server"), "--port", "0", "--log-level", "warn"],
  logDir: join(dataDir, "logs"),
});
try {
  const client = createClient({ ...service.info });
  await client.command({ query: TABLE_DDL });
  const paths = [
    { target: "client-web → stand-in (zero-copy insert)", table: "usage_bench" },
    // A quoted name is outside the zero-copy shape, so the rows travel as inline SQL.
    { target: "client-web → stand-in (inline SQL insert)", table: "`usage_bench`" },
  ];
  for (const { target, table } of paths) {
    for (const { batchRows, rounds } of plans) {
      const figures = await measure(batchRows, rounds, async (values) => {
        const { response_headers } = await client.insert({ table, values, format: "JSONEachRow" });
        const summary = JSON.parse(String(response_headers["x-clickhouse-summary"]));
        return Number(summary.elapsed_ns) / 1e6;
      });
      results.push({ target, batchRows, ...figures });
    }
  }
  await client.close();
} finally {
  await service.stop();
}

const chdb = await import("chdb");
const session = new chdb.Session(join(dataDir, "direct"));
await session.queryAsync(TABLE_DDL);
for (const { batchRows, rounds } of plans) {
  const figures = await measure(batchRows, rounds, async (rows) => {
    const payload = Buffer.from(`${rows.map((row) => JSON.stringify(row)).join("\n")}\n`);
    await session.insert({ table: "usage_bench", format: "JSONEachRow", values: payload });
    return undefined;
  });
  results.push({ target: "chdb session.insert, same process (no HTTP)", batchRows, ...figures });
}
session.close();
await chdb.drainPending();
rmSync(dataDir, { recursive: true, force: true });

console.log(
  `load average ${loadavg()
    .map((n) => n.toFixed(1))
    .join(" ")}`,
);
console.log("| path | rows per batch | rows/s | ms per batch | of which in the engine (ms) |");
console.log("|---|---:|---:|---:|---:|");
for (const row of results) {
  const rate = Math.round(row.rowsPerSecond).toLocaleString("en");
  const engine = row.engineMsPerBatch === undefined ? "–" : row.engineMsPerBatch.toFixed(1);
  console.log(
    `| ${row.target} | ${row.batchRows.toLocaleString("en")} | ${rate} | ${row.msPerBatch.toFixed(1)} | ${engine} |`,
  );
}
