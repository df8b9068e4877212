/**
 * What `npm run bench` reports for each benchmark: rows of the printed table and the figures of
 * the JSON object (snake_case keys, rates rounded to whole units, times to 0.1 ms), each row
 * tagged with the runtime it was measured in.
 */
import type { FraudBenchResult } from "./fraud.ts";
import type { IngestBenchResult } from "./ingest.ts";
import type { InvoiceRunBenchResult } from "./invoice-run.ts";
import type { RatingBenchResult } from "./rating.ts";
import type { SinkBenchResult } from "./sink.ts";
import { BATCH_CONNECTIONS, SINGLE_CONNECTIONS } from "./support/ingest-load.ts";
import type { LoadResult } from "./support/load.ts";

export const RUNTIMES = {
  workerd: "workerd through Miniflare's API, Durable Objects on disk, full local stack",
  node: "pure Node: lib code in one process (the batch path on node:sqlite, on disk)",
  "node+stack": "Node calling the consumer's lib code against the local ClickHouse and Postgres",
} as const;
export type Runtime = keyof typeof RUNTIMES;

export interface Row {
  figure: string;
  value: string;
  runtime: Runtime;
}

export interface Summary {
  rows: Row[];
  figures: Record<string, unknown>;
}

const whole = (x: number) => Math.round(x);
const tenth = (x: number) => Math.round(x * 10) / 10;
const count = (x: number) => Math.round(x).toLocaleString("en-US");
const ms = (x: number) => `${x.toFixed(1)} ms`;
const percent = (ratio: number) => `${(ratio * 100).toFixed(1)} %`;

function loadErrors(...results: LoadResult[]): number {
  return results.reduce((sum, r) => sum + r.errors, 0);
}

export function summariseIngest(r: IngestBenchResult): Summary {
  const row = (figure: string, value: string): Row => ({ figure, value, runtime: "workerd" });
  const errors = loadErrors(r.batched, r.ceiling, r.writeCeiling, r.single, r.singleWriteCeiling);
  return {
    rows: [
      row(
        `batched: 1,000 events/request, ${BATCH_CONNECTIONS} connections`,
        `${count(r.eventsPerSecond)} events/s`,
      ),
      row(
        "ceiling: same requests, parse and discard",
        `${count(r.ceilingEventsPerSecond)} events/s`,
      ),
      row("batched / ceiling", percent(r.ratioToCeiling)),
      row(
        "write ceiling: same requests, one minimal write per account",
        `${count(r.writeCeilingEventsPerSecond)} events/s`,
      ),
      row("batched / write ceiling", percent(r.ratioToWriteCeiling)),
      row("batched request p50 / p99", `${ms(r.p50Ms)} / ${ms(r.p99Ms)}`),
      row("pipeline drained after the batched phase", `${r.drainSeconds.toFixed(1)} s`),
      row(
        `single: 1 event/request, ${SINGLE_CONNECTIONS} connections`,
        `${count(r.singleRequestsPerSecond)} req/s`,
      ),
      row("single request p50 / p99", `${ms(r.singleP50Ms)} / ${ms(r.singleP99Ms)}`),
      row(
        "single write ceiling: one minimal write per request",
        `${count(r.singleWriteCeilingRequestsPerSecond)} req/s`,
      ),
      row("single / single write ceiling", percent(r.singleRatioToWriteCeiling)),
      row("failed requests (all scenarios)", count(errors)),
    ],
    figures: {
      events_per_second: whole(r.eventsPerSecond),
      ceiling_events_per_second: whole(r.ceilingEventsPerSecond),
      ratio_to_ceiling: Math.round(r.ratioToCeiling * 1000) / 1000,
      write_ceiling_events_per_second: whole(r.writeCeilingEventsPerSecond),
      ratio_to_write_ceiling: Math.round(r.ratioToWriteCeiling * 1000) / 1000,
      p50_ms: tenth(r.p50Ms),
      p99_ms: tenth(r.p99Ms),
      drain_seconds: tenth(r.drainSeconds),
      single_requests_per_second: whole(r.singleRequestsPerSecond),
      single_p50_ms: tenth(r.singleP50Ms),
      single_p99_ms: tenth(r.singleP99Ms),
      single_write_ceiling_requests_per_second: whole(r.singleWriteCeilingRequestsPerSecond),
      single_ratio_to_write_ceiling: Math.round(r.singleRatioToWriteCeiling * 1000) / 1000,
      errors,
      scenario_seconds: tenth(r.batched.seconds),
      runtime: RUNTIMES.workerd,
    },
  };
}

export function summariseSink(r: SinkBenchResult): Summary {
  const node = (figure: string, value: string): Row => ({ figure, value, runtime: "node+stack" });
  const worker = (figure: string, value: string): Row => ({ figure, value, runtime: "workerd" });
  const lagMeasured = r.lagMs.samples > 0;
  return {
    rows: [
      node(
        `ClickHouse via consumer (${r.deliveries} x ${count(r.rowsPerDelivery)} rows)`,
        `${count(r.clickhouseRowsPerSecond)} rows/s`,
      ),
      node(
        "ClickHouse insert inside the consumer",
        `${count(r.clickhouseSinkRowsPerSecond)} rows/s`,
      ),
      node(
        "ClickHouse direct insert, same rows",
        `${count(r.clickhouseDirectRowsPerSecond)} rows/s`,
      ),
      node("consumer / direct", percent(r.ratioToDirect)),
      node(
        "Postgres ledger inside the consumer",
        `${count(r.postgresRowsPerSecond)} records/s (${count(r.postgresBatchesPerSecond)} batches/s)`,
      ),
      ...(lagMeasured
        ? [
            worker(
              "ingest -> queryable, no other load: p50 / max",
              `${count(r.idleLagMs.p50)} / ${count(r.idleLagMs.max)} ms`,
            ),
            worker(
              `ingest -> queryable at ${count(r.ingestEventsPerSecond)} events/s: p50 / p90`,
              `${count(r.lagMs.p50)} / ${count(r.lagMs.p90)} ms`,
            ),
          ]
        : []),
    ],
    figures: {
      clickhouse_rows_per_second: whole(r.clickhouseRowsPerSecond),
      clickhouse_insert_rows_per_second: whole(r.clickhouseSinkRowsPerSecond),
      clickhouse_direct_rows_per_second: whole(r.clickhouseDirectRowsPerSecond),
      ratio_to_direct: Math.round(r.ratioToDirect * 1000) / 1000,
      postgres_records_per_second: whole(r.postgresRowsPerSecond),
      postgres_batches_per_second: whole(r.postgresBatchesPerSecond),
      deliveries: r.deliveries,
      rows_per_delivery: r.rowsPerDelivery,
      lag_p50_ms: whole(r.lagMs.p50),
      lag_p90_ms: whole(r.lagMs.p90),
      lag_max_ms: whole(r.lagMs.max),
      lag_samples: r.lagMs.samples,
      lag_ingest_events_per_second: whole(r.ingestEventsPerSecond),
      idle_lag_p50_ms: whole(r.idleLagMs.p50),
      idle_lag_max_ms: whole(r.idleLagMs.max),
      runtime: { throughput: RUNTIMES["node+stack"], lag: RUNTIMES.workerd },
    },
  };
}

export function summariseRating(r: RatingBenchResult): Summary {
  const row = (figure: string, value: string): Row => ({ figure, value, runtime: "node" });
  const batch = (c: RatingBenchResult["batch"]) =>
    `${count(c.eventsPerSecond)} events/s (batch p50 ${c.p50BatchMs} ms, p99 ${c.p99BatchMs} ms)`;
  return {
    rows: [
      ...r.cases.map((c) => row(c.name, `${count(c.opsPerSecond)} ops/s`)),
      row("meter batch path, 100-event batches, priced", batch(r.batch)),
      row("meter batch path, unpriced", batch(r.unpriced)),
    ],
    figures: {
      ops_per_second: r.opsPerSecond,
      batch_events_per_second: r.batchEventsPerSecond,
      batch_p50_ms: r.batch.p50BatchMs,
      batch_p99_ms: r.batch.p99BatchMs,
      unpriced_batch_events_per_second: r.unpriced.eventsPerSecond,
      cases: Object.fromEntries(r.cases.map((c) => [c.name, c.opsPerSecond])),
      checksum: r.checksum,
      runtime: RUNTIMES.node,
    },
  };
}

export function summariseFraud(r: FraudBenchResult): Summary {
  const runtime: Runtime = r.mode === "worker" ? "workerd" : "node+stack";
  const row = (figure: string, value: string): Row => ({ figure, value, runtime });
  const line = (x: LoadResult) =>
    `${count(x.requestsPerSecond)}/s, p50 ${ms(x.p50Ms)}, p99 ${ms(x.p99Ms)}`;
  const scenarios = { decisions: r.decisions, signups: r.signups, deployments: r.deployments };
  const errors = loadErrors(r.decisions, r.signups, r.deployments, r.keyed, r.admin);
  return {
    rows: [
      row("decisions (signups and admissions alternating)", line(r.decisions)),
      row("signups", line(r.signups)),
      row("deployment admissions", line(r.deployments)),
      row(
        r.mode === "worker" ? "GET usage, account key (limiter on)" : "rate-limit check",
        line(r.keyed),
      ),
      row(
        r.mode === "worker" ? "GET usage, admin key (no limiter)" : "one Redis GET",
        line(r.admin),
      ),
      row("failed requests (all scenarios)", count(errors)),
    ],
    figures: {
      mode: r.mode,
      p50_ms: tenth(r.p50Ms),
      p99_ms: tenth(r.p99Ms),
      decisions_per_second: tenth(r.decisionsPerSecond),
      ...Object.fromEntries(
        Object.entries(scenarios).flatMap(([name, x]) => [
          [`${name}_per_second`, tenth(x.requestsPerSecond)],
          [`${name}_p99_ms`, tenth(x.p99Ms)],
        ]),
      ),
      keyed_p50_ms: tenth(r.keyed.p50Ms),
      admin_p50_ms: tenth(r.admin.p50Ms),
      errors,
      runtime: r.mode === "worker" ? RUNTIMES.workerd : RUNTIMES["node+stack"],
    },
  };
}

export function summariseInvoiceRun(r: InvoiceRunBenchResult): Summary {
  const row = (figure: string, value: string): Row => ({ figure, value, runtime: "workerd" });
  return {
    rows: [
      row(`run -> last of ${count(r.accounts)} invoices finalized`, `${r.seconds.toFixed(1)} s`),
      row("invoices finalized per second", r.invoicesPerSecond.toFixed(1)),
      row("run request (cursors, jobs enqueued)", `${r.enqueueSeconds.toFixed(2)} s`),
      row(
        `setup: ${count(r.events)} events ingested / ledger complete`,
        `${r.ingestSeconds.toFixed(1)} s / +${r.pipelineSeconds.toFixed(1)} s`,
      ),
      row(
        "amount due (USD cents); gapless numbers",
        `${r.amountDueMinor}; ${r.gaplessNumbers ? "yes" : "NO"}`,
      ),
    ],
    figures: {
      accounts: r.accounts,
      seconds: tenth(r.seconds),
      invoices_per_second: tenth(r.invoicesPerSecond),
      enqueue_seconds: Math.round(r.enqueueSeconds * 100) / 100,
      setup_ingest_seconds: tenth(r.ingestSeconds),
      setup_pipeline_seconds: tenth(r.pipelineSeconds),
      events: r.events,
      amount_due_minor: r.amountDueMinor,
      gapless_numbers: r.gaplessNumbers,
      runtime: RUNTIMES.workerd,
    },
  };
}

/** The table: one line per figure, the benchmark named on its first line. */
export function renderTable(sections: { name: string; seconds: number; rows: Row[] }[]): string {
  const header = ["benchmark", "figure", "value", "runtime"];
  const lines = sections.flatMap((section) =>
    section.rows.map((row, i) => [
      i === 0 ? `${section.name} (${section.seconds.toFixed(0)} s)` : "",
      row.figure,
      row.value,
      row.runtime,
    ]),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]?.length ?? 0)));
  const format = (cells: string[]) =>
    `| ${cells.map((cell, i) => (i === 2 ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0))).join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (i === 2 ? `${"-".repeat(w + 1)}:` : "-".repeat(w + 2))).join("|")}|`;
  return [format(header), rule, ...lines.map(format)].join("\n");
}
