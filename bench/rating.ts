/**
 * Rating throughput in pure lib code: how many `rateIncrement` calls per second one core does on
 * a five-tier graduated price, the work the account meter adds per event inside its ingestion
 * transaction. Run with `npx node bench/rating.ts`; `benchRating()` is what `npm run bench` calls.
 */
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

export interface RatingBenchResult {
  /** The headline figure: rateIncrement over a realistic stream of small increments. */
  opsPerSecond: number;
  cases: BenchCase[];
  /** Sum of every amount computed, so the work cannot be optimised away; also a checksum. */
  checksum: string;
}

export interface RatingBenchOptions {
  /** Calls per case (default 500,000: well under a second per case on one core). */
  operations?: number;
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
  return { opsPerSecond: headline, cases, checksum: checksum.toString() };
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
  console.log(`\nheadline: ${result.opsPerSecond.toLocaleString("en-US")} rateIncrement/s`);
  console.log(`checksum: ${result.checksum}`);
}

if (import.meta.main) {
  const operations = Number(process.argv[2] ?? 500_000);
  printTable(await benchRating({ operations }));
}
