/**
 * Micro-benchmark: period lookups per second through a PeriodCalendar (what the account meter
 * holds) versus one-off `periodContaining` calls, which resolve boundaries through Intl every
 * time. Run with `npx node bench/periods.ts`; numbers are for this machine and Node's V8/ICU,
 * not workerd (whose timers do not advance during execution, so it cannot time itself).
 */
import type { IntervalSpec } from "../lib/periods/index.ts";
import { PeriodCalendar, periodContaining } from "../lib/periods/index.ts";

interface Scenario {
  name: string;
  spec: IntervalSpec;
  zone: string;
  /** The i-th instant looked up. */
  instantAt(i: number): number;
}

const START_MS = Date.parse("2024-03-01T00:00:00Z");
const SANTIAGO_DST_MS = Date.parse("2024-09-06T00:00:00Z");
const YEAR_MS = 366 * 86_400_000;

/** Deterministic pseudo-random instants (xorshift), so runs are comparable. */
function scatter(seed: number): (i: number) => number {
  let state = seed;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return START_MS + ((state >>> 0) % YEAR_MS);
  };
}

const SCENARIOS: Scenario[] = [
  {
    name: "monthly, New York, events 1 s apart (ingestion order)",
    spec: { unit: "month", count: 1, anchorDay: 1 },
    zone: "America/New_York",
    instantAt: (i) => START_MS + i * 1000,
  },
  {
    name: "daily, Santiago, events 100 ms apart across DST at midnight",
    spec: { unit: "day", count: 1, anchorDate: "2024-01-01" },
    zone: "America/Santiago",
    instantAt: (i) => SANTIAGO_DST_MS + i * 100,
  },
  {
    name: "daily, London, random instants over a year (worst case for the cache)",
    spec: { unit: "day", count: 1, anchorDate: "2024-01-01" },
    zone: "Europe/London",
    instantAt: scatter(2_463_534_242),
  },
];

function measure(lookups: number, lookup: (i: number) => number): { perSecond: number } {
  // Warm up the JIT and the isolate-level formatter cache before timing.
  for (let i = 0; i < Math.min(lookups, 2000); i += 1) {
    lookup(i);
  }
  let checksum = 0;
  const started = performance.now();
  for (let i = 0; i < lookups; i += 1) {
    checksum += lookup(i) % 7;
  }
  const elapsedMs = performance.now() - started;
  if (checksum < 0) {
    console.log("unreachable; keeps the loop from being optimised away");
  }
  return { perSecond: (lookups / elapsedMs) * 1000 };
}

const format = (value: number) => Math.round(value).toLocaleString("en-US").padStart(13);

console.log(
  `Node ${process.versions.node}, ICU ${process.versions.icu}, tz ${process.versions.tz}`,
);
for (const scenario of SCENARIOS) {
  const calendar = new PeriodCalendar(scenario.spec, scenario.zone);
  const cachedInstants = scenario.instantAt;
  const cached = measure(2_000_000, (i) => calendar.containing(cachedInstants(i)).startMs);
  const uncached = measure(
    20_000,
    (i) => periodContaining(scenario.spec, scenario.zone, scenario.instantAt(i)).startMs,
  );
  console.log(`\n${scenario.name}`);
  console.log(`  PeriodCalendar.containing  ${format(cached.perSecond)} lookups/s`);
  console.log(`  periodContaining (uncached) ${format(uncached.perSecond)} lookups/s`);
  console.log(`  speed-up                   ${format(cached.perSecond / uncached.perSecond)}x`);
}
