/**
 * The mining detector: a pure function over an account's per-minute CPU buckets. Each bucket of
 * a time-weighted CPU meter holds level × seconds accrued in that minute (vCPU-seconds), so the
 * minute's average level is quantity / 60. Mining holds the CPU near full, flat, for hours;
 * honest heavy use is bursty or has idle stretches. The detector looks for exactly that shape.
 */

/** One minute of CPU usage: vCPU-seconds accrued in `[minuteMs, minuteMs + 60 s)`. */
export interface CpuMinute {
  minuteMs: number;
  /** Decimal text, as the account meter stores it. */
  quantity: string;
}

export interface SustainedCpuThresholds {
  /** Length of the window looked at, ending at the last whole minute. */
  windowMinutes: number;
  /** A minute is busy when its average level is at least this many vCPU. */
  busyLevelVcpu: number;
  /** Share of the window's minutes that must be busy. */
  minBusyShare: number;
  /** Largest coefficient of variation (stddev / mean) of the busy minutes' levels: flatness. */
  maxVariation: number;
}

/**
 * Defaults: three hours of at least 0.9 vCPU (near full for a free-tier instance of 1 vCPU) in
 * 95 % of the minutes, varying by at most 15 %.
 */
export const SUSTAINED_CPU_DEFAULTS: SustainedCpuThresholds = {
  windowMinutes: 180,
  busyLevelVcpu: 0.9,
  minBusyShare: 0.95,
  maxVariation: 0.15,
};

/** What the detector measured, kept as the signal's evidence. */
export interface SustainedCpuFinding {
  windowStartMs: number;
  windowEndMs: number;
  minutes: number;
  busyMinutes: number;
  /** Average level over the window, vCPU, rounded to 3 decimals. */
  meanVcpu: number;
  /** Coefficient of variation of the busy minutes' levels, 3 decimals; -1 with none busy. */
  variation: number;
}

const MINUTE_MS = 60_000;

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/**
 * Looks at the `windowMinutes` whole minutes before `windowEndMs` (rounded down to a minute).
 * Buckets of several CPU meters in the same minute are added up; minutes without a bucket count
 * as idle. Flags the window when enough minutes are busy and the levels are flat enough.
 * Floats are fine here: these are measurements, not money.
 */
export function detectSustainedCpu(
  buckets: readonly CpuMinute[],
  windowEndMs: number,
  thresholds: SustainedCpuThresholds = SUSTAINED_CPU_DEFAULTS,
): { flagged: boolean; finding: SustainedCpuFinding } {
  const endMs = windowEndMs - (((windowEndMs % MINUTE_MS) + MINUTE_MS) % MINUTE_MS);
  const startMs = endMs - thresholds.windowMinutes * MINUTE_MS;
  const levels = new Array<number>(thresholds.windowMinutes).fill(0);
  for (const bucket of buckets) {
    if (bucket.minuteMs < startMs || bucket.minuteMs >= endMs) {
      continue;
    }
    const index = Math.floor((bucket.minuteMs - startMs) / MINUTE_MS);
    levels[index] = (levels[index] ?? 0) + Number(bucket.quantity) / 60;
  }
  const minutes = levels.length;
  const mean = levels.reduce((a, b) => a + b, 0) / minutes;
  const busy = levels.filter((level) => level >= thresholds.busyLevelVcpu);
  // Flatness is measured over the busy minutes only: a few idle minutes (a restart) must not
  // hide a miner, and coverage is already judged by the busy share.
  const busyMean = busy.length > 0 ? busy.reduce((a, b) => a + b, 0) / busy.length : 0;
  const variation =
    busy.length > 0
      ? Math.sqrt(busy.reduce((sum, level) => sum + (level - busyMean) ** 2, 0) / busy.length) /
        busyMean
      : Number.POSITIVE_INFINITY;
  const flagged =
    busy.length / minutes >= thresholds.minBusyShare && variation <= thresholds.maxVariation;
  return {
    flagged,
    finding: {
      windowStartMs: startMs,
      windowEndMs: endMs,
      minutes,
      busyMinutes: busy.length,
      meanVcpu: round3(mean),
      variation: Number.isFinite(variation) ? round3(variation) : -1,
    },
  };
}
