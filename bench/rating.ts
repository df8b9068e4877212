/**
 * Rating throughput, measured two ways on a five-tier graduated price:
 * - pure lib code: how many `rateIncrement` calls per second one core does, the work the
 *   account meter adds per event inside its ingestion transaction;
 * - the account meter's batch path: `applyBatch` (dedup, aggregation, incremental rating,
 *   buckets) plus the outbox append and spend update, over 100-event batches, each batch one
 *   transaction on a real SQLite database (node:sqlite, WAL, on disk) reached through the same
 *   `Sql` interface the Durable Object gives it.
 * Run with `npx node bench/rating.ts [operations] [batches]`; `benchRating()` is what
 * `npm run bench` calls.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { AccountConfig } from "../lib/catalogue/account-config.ts";
import { applyBatch, type IndexedEvent } from "../lib/metering/apply-batch.ts";
import { compileMeterContext } from "../lib/metering/compile-context.ts";
import { appendToOutbox, seqCounterFrom } from "../lib/metering/outbox.ts";
import { migrateMeterSchema } from "../lib/metering/schema.ts";
import { recordSpend } from "../lib/metering/spend.ts";
import type { Sql, SqlCursor, SqlValue } from "../lib/metering/sql.ts";
import { Decimal } from "../lib/money/decimal.ts";
import { rateIncrement, rateTotal } from "../lib/pricing/rate.ts";
import type { QuantityPrice } from "../lib/pricing/types.ts";
import { compilePrice } from "../lib/pricing/validate.ts";

export interface BenchCase {
  name: string;
  operations: number;
  durationMs: number;
  opsPerSecond: number;
  nsPerOp: number;
}

export interface BatchBenchCase {
  name: string;
  batches: number;
  eventsPerBatch: number;
  durationMs: number;
  eventsPerSecond: number;
  /** Median and 99th percentile time of one batch transaction. */
  p50BatchMs: number;
  p99BatchMs: number;
}

export interface RatingBenchResult {
  /** Pure lib: rateIncrement calls per second over a realistic stream of small increments. */
  libOpsPerSecond: number;
  /** The account meter's batch path on SQLite: events per second, 100-event batches. */
  batchEventsPerSecond: number;
  /** Same as libOpsPerSecond (the figure earlier versions of this benchmark reported). */
  opsPerSecond: number;
  cases: BenchCase[];
  batch: BatchBenchCase;
  /** The same batch path for an account without a plan: what the batch costs besides rating. */
  unpriced: BatchBenchCase;
  /** Sum of every amount computed, so the work cannot be optimised away; also a checksum. */
  checksum: string;
}

export interface RatingBenchOptions {
  /** Calls per case (default 500,000: well under a second per case on one core). */
  operations?: number;
  /** Timed 100-event batches through the meter's batch path (default 2,000). */
  batches?: number;
}

const FIVE_TIERS = {
  model: "graduated",
  includedQuantity: "1000",
  tiers: [
    { upTo: "10000", unitPrice: "0.002" },
    { upTo: "100000", unitPrice: "0.0015" },
    { upTo: "1000000", unitPrice: "0.001", flatFee: "5" },
    { upTo: "10000000", unitPrice: "0.0005" },
    { upTo: null, unitPrice: "0.00025" },
  ],
};

/** Deterministic pseudo-random integers (a 32-bit LCG), so every run rates the same inputs. */
function sequence(count: number, seed: number, modulo: number): number[] {
  const out: number[] = [];
  let state = seed >>> 0;
  for (let i = 0; i < count; i += 1) {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    out.push(state % modulo);
  }
  return out;
}

function measure(name: string, operations: number, run: () => Decimal): [BenchCase, Decimal] {
  run(); // warm-up pass: lets the JIT settle before the timed one
  const started = performance.now();
  const sum = run();
  const durationMs = performance.now() - started;
  const opsPerSecond = Math.round((operations / durationMs) * 1000);
  const nsPerOp = Math.round((durationMs * 1e6) / operations);
  return [{ name, operations, durationMs: Math.round(durationMs), opsPerSecond, nsPerOp }, sum];
}

/** Runs every case and returns the figures; prints nothing. */
export async function benchRating(options: RatingBenchOptions = {}): Promise<RatingBenchResult> {
  const operations = options.operations ?? 500_000;
  const price = compilePrice(FIVE_TIERS) as QuantityPrice;

  // A meter's life: events of 1–500 units (3 fractional digits) accumulating through all tiers.
  const sizes = sequence(operations, 7, 500_000).map((n) => Decimal.fromParts(BigInt(n + 1), 3));
  const stream: Decimal[] = [Decimal.ZERO];
  for (const size of sizes) {
    stream.push((stream[stream.length - 1] as Decimal).add(size));
  }
  // Pairs far apart, so most calls cross one or more tier bounds (the slow path).
  const jumps = sequence(operations * 2, 11, 20_000_000).map((n) => Decimal.fromBigInt(BigInt(n)));

  const cases: BenchCase[] = [];
  let checksum = Decimal.ZERO;
  const add = ([result, sum]: [BenchCase, Decimal]) => {
    cases.push(result);
    checksum = checksum.add(sum);
  };

  add(
    measure("rateIncrement, event stream through 5 tiers", operations, () => {
      let sum = Decimal.ZERO;
      for (let i = 0; i < operations; i += 1) {
        sum = sum.add(rateIncrement(price, stream[i] as Decimal, stream[i + 1] as Decimal));
      }
      return sum;
    }),
  );
  add(
    measure("rateIncrement, random jumps across tiers", operations, () => {
      let sum = Decimal.ZERO;
      for (let i = 0; i < operations; i += 1) {
        sum = sum.add(rateIncrement(price, jumps[2 * i] as Decimal, jumps[2 * i + 1] as Decimal));
      }
      return sum;
    }),
  );
  const texts = sizes.map((size) => size.toString());
  add(
    measure("parse value + rateIncrement (meter path)", operations, () => {
      let sum = Decimal.ZERO;
      let total = Decimal.ZERO;
      for (let i = 0; i < operations; i += 1) {
        const parsed = Decimal.parse(texts[i] as string);
        if (!parsed.ok) {
          throw new Error(parsed.detail);
        }
        const after = total.add(parsed.value);
        sum = sum.add(rateIncrement(price, total, after));
        total = after;
      }
      return sum;
    }),
  );
  add(
    measure("rateTotal, random totals", operations, () => {
      let sum = Decimal.ZERO;
      for (let i = 0; i < operations; i += 1) {
        sum = sum.add(rateTotal(price, jumps[i] as Decimal));
      }
      return sum;
    }),
  );

  const headline = cases[0]?.opsPerSecond ?? 0;
  const batch = benchBatchPath(options.batches ?? 2_000, true);
  const unpriced = benchBatchPath(options.batches ?? 2_000, false);
  return {
    libOpsPerSecond: headline,
    batchEventsPerSecond: batch.eventsPerSecond,
    opsPerSecond: headline,
    cases,
    batch,
    unpriced,
    checksum: checksum.toString(),
  };
}

/**
 * The Durable Object's `Sql` over node:sqlite: statements prepared once and cached, rows as
 * plain objects, `rowsWritten` from the statement's change count (or its RETURNING rows).
 */
function nodeSql(db: DatabaseSync): Sql {
  const statements = new Map<string, { statement: StatementSync; reads: boolean }>();
  return {
    exec<Row extends Record<string, SqlValue>>(query: string, ...bindings: SqlValue[]) {
      let entry = statements.get(query);
      if (!entry) {
        const statement = db.prepare(query);
        entry = { statement, reads: statement.columns().length > 0 };
        statements.set(query, entry);
      }
      const params = bindings as (string | number | null)[];
      let rows: Row[] = [];
      let rowsWritten = 0;
      if (entry.reads) {
        rows = entry.statement.all(...params) as Row[];
        rowsWritten = /^\s*(insert|update|delete)/i.test(query) ? rows.length : 0;
      } else {
        rowsWritten = Number(entry.statement.run(...params).changes);
      }
      const cursor: SqlCursor<Row> = {
        [Symbol.iterator]: () => rows[Symbol.iterator](),
        toArray: () => rows,
        one: () => {
          if (rows.length !== 1) {
            throw new Error(`expected one row, got ${rows.length}: ${query}`);
          }
          return rows[0] as Row;
        },
        rowsWritten,
      };
      return cursor;
    },
  };
}

const BATCH_SIZE = 100;
const BENCH_ACCOUNT = "bench-account";
const BENCH_METER = "tokens";

/**
 * An account on one plan whose only price is the five-tier graduated one, or (`priced` false)
 * the same account with no plan, so the difference between the two runs is the rating.
 */
function benchConfig(priced: boolean): AccountConfig {
  return {
    accountId: BENCH_ACCOUNT,
    revision: "1:1",
    name: "Bench",
    currency: "USD",
    timeZone: "America/New_York",
    billingInterval: { unit: "month", count: 1, anchorDay: 1 },
    collectionMethod: "charge_automatically",
    meters: [
      {
        key: BENCH_METER,
        name: "Tokens",
        aggregation: "sum",
        unit: "tokens",
        valueProperty: null,
        seriesProperty: null,
        heartbeatTimeoutSeconds: null,
        allowNegative: false,
        groupBy: [],
      },
    ],
    pricing: !priced
      ? []
      : [
          {
            fromMs: 0,
            toMs: null,
            planId: "plan_bench",
            planVersionId: "planv_bench",
            version: 1,
            currency: "USD",
            baseFee: "0",
            prices: { [BENCH_METER]: FIVE_TIERS },
          },
        ],
    spend: { budget: "100000", alertPercents: [50, 80, 100], hardCap: false },
  };
}

/**
 * Invariant check, so the figure is for correct work: the amount the meter accumulated batch
 * by batch equals the rating of its total quantity.
 */
function checkIncrementalRating(sql: Sql): void {
  const price = compilePrice(FIVE_TIERS) as QuantityPrice;
  for (const row of sql.exec<{ quantity: string; amount: string }>(
    "SELECT quantity, amount FROM totals WHERE meter = ?",
    BENCH_METER,
  )) {
    const expected = rateTotal(price, Decimal.from(row.quantity));
    if (!expected.eq(Decimal.from(row.amount))) {
      throw new Error(`rated ${row.amount} incrementally, ${expected.toString()} in total`);
    }
  }
}

/**
 * Runs `batches` timed batches of 100 fresh events (after 50 warm-up batches) through the
 * ingest transaction the account meter runs: applyBatch, the outbox append and the spend
 * update, committed per batch. Events are 1–500 tokens, stamped within the last minutes.
 */
function benchBatchPath(batches: number, priced: boolean): BatchBenchCase {
  const dir = mkdtempSync(join(tmpdir(), "meterline-bench-rating-"));
  const db = new DatabaseSync(join(dir, "meter.sqlite"));
  try {
    db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL");
    const sql = nodeSql(db);
    migrateMeterSchema(sql);
    const seqs = seqCounterFrom(sql);
    const config = benchConfig(priced);
    const context = compileMeterContext(config, 35);
    const nowMs = Date.UTC(2026, 2, 15, 12);
    const sizes = sequence((batches + 50) * BATCH_SIZE, 13, 500_000);
    let next = 0;
    const makeBatch = (): IndexedEvent[] =>
      Array.from({ length: BATCH_SIZE }, (_, index) => {
        const n = next;
        next += 1;
        return {
          index,
          id: `evt-${n}`,
          accountId: BENCH_ACCOUNT,
          meter: BENCH_METER,
          value: Decimal.fromParts(BigInt((sizes[n] ?? 0) + 1), 3).toString(),
          timeMs: nowMs - 600_000 + (n % 600_000),
          timeFromArrival: false,
          properties: {},
        };
      });
    const runBatch = (events: IndexedEvent[]): number => {
      db.exec("BEGIN");
      try {
        const result = applyBatch(sql, context, events, nowMs);
        // Handed over, as for the ingest API: the Worker sends the messages after the call.
        appendToOutbox(sql, seqs, BENCH_ACCOUNT, nowMs, result.records, result.events, true);
        recordSpend(sql, config, result.spendDeltas);
        db.exec("COMMIT");
        return result.accepted;
      } catch (error) {
        db.exec("ROLLBACK");
        throw error;
      }
    };
    for (let i = 0; i < 50; i += 1) {
      runBatch(makeBatch());
    }
    const prepared = Array.from({ length: batches }, makeBatch);
    const times: number[] = [];
    let accepted = 0;
    const started = performance.now();
    for (const events of prepared) {
      const batchStarted = performance.now();
      accepted += runBatch(events);
      times.push(performance.now() - batchStarted);
    }
    const durationMs = performance.now() - started;
    if (accepted !== batches * BATCH_SIZE) {
      throw new Error(`expected ${batches * BATCH_SIZE} events accepted, got ${accepted}`);
    }
    if (priced) {
      checkIncrementalRating(sql);
    }
    times.sort((a, b) => a - b);
    const at = (q: number) =>
      Math.round((times[Math.floor(q * (times.length - 1))] ?? 0) * 100) / 100;
    return {
      name: `applyBatch + outbox + spend, ${priced ? "5-tier graduated price" : "unpriced"}`,
      batches,
      eventsPerBatch: BATCH_SIZE,
      durationMs: Math.round(durationMs),
      eventsPerSecond: Math.round((accepted / durationMs) * 1000),
      p50BatchMs: at(0.5),
      p99BatchMs: at(0.99),
    };
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function printTable(result: RatingBenchResult): void {
  const header = ["case", "ops", "ms", "ops/s", "ns/op"];
  const rows = result.cases.map((c) => [
    c.name,
    c.operations.toLocaleString("en-US"),
    String(c.durationMs),
    c.opsPerSecond.toLocaleString("en-US"),
    String(c.nsPerOp),
  ]);
  const widths = header.map((h, i) =>
    Math.max(h.length, ...rows.map((row) => row[i]?.length ?? 0)),
  );
  const format = (cells: string[]) =>
    cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)));
  console.log(`| ${format(header).join(" | ")} |`);
  console.log(
    `|${widths.map((w, i) => (i === 0 ? ":" : "-") + "-".repeat(w) + (i === 0 ? "-" : ":")).join("|")}|`,
  );
  for (const row of rows) {
    console.log(`| ${format(row).join(" | ")} |`);
  }
  const b = result.batch;
  console.log(
    `\nbatch path: ${b.eventsPerSecond.toLocaleString("en-US")} events/s ` +
      `(${b.batches} batches of ${b.eventsPerBatch}; p50 ${b.p50BatchMs} ms, p99 ${b.p99BatchMs} ms per batch)`,
  );
  const u = result.unpriced;
  console.log(
    `same path, unpriced: ${u.eventsPerSecond.toLocaleString("en-US")} events/s ` +
      `(p50 ${u.p50BatchMs} ms, p99 ${u.p99BatchMs} ms per batch)`,
  );
  console.log(
    `pure lib: ${result.libOpsPerSecond.toLocaleString("en-US")} events/s ` +
      "(one rateIncrement per event, five-tier graduated price)",
  );
  console.log(`checksum: ${result.checksum}`);
}

if (import.meta.main) {
  const operations = Number(process.argv[2] ?? 500_000);
  const batches = Number(process.argv[3] ?? 2_000);
  printTable(await benchRating({ operations, batches }));
}
