import type { MeterDefinition } from "../catalogue/meter.ts";
import type { Logger } from "../log/logger.ts";
import type { Sql } from "../metering/sql.ts";
import type { WorkSender } from "./deps.ts";
import { signalMessage } from "./messages.ts";
import { type CpuMinute, detectSustainedCpu, SUSTAINED_CPU_DEFAULTS } from "./usage-pattern.ts";

/** How often an account meter screens its CPU usage (on an alarm, never more often). */
export const USAGE_SCREEN_INTERVAL_MS = 15 * 60_000;
/** Meta key (account meter storage) holding when the last screen ran. */
const SCREENED_KEY = "risk_screened_ms";

/**
 * CPU meters: time-weighted meters whose unit names CPUs (`vcpu`, `cpu`, `vcpus`, `cores`,
 * any case). Their minute buckets hold vCPU-seconds, which the detector reads.
 */
export function isCpuMeter(meter: Pick<MeterDefinition, "aggregation" | "unit">): boolean {
  return meter.aggregation === "time_weighted" && /^(v?cpus?|cores?)$/i.test(meter.unit.trim());
}

export type UsageScreenOutcome = "not_due" | "no_cpu_meter" | "clean" | "flagged" | "failed";

/**
 * Screens an account's recent CPU usage for the mining pattern, from the account meter's alarm.
 * At most once per USAGE_SCREEN_INTERVAL_MS: reads the last window's minute buckets of its CPU
 * meters, runs the pure detector, and when it fires enqueues a `risk.signal` of kind
 * `usage.sustained_cpu` (idempotent per account and hour). Whether that is mining is decided
 * by the consumer, which knows the account's plan (free tier or paying). Never throws: a
 * failure is logged and the screen runs again on a later alarm.
 */
export async function screenUsageForRisk(input: {
  sql: Sql;
  meters: Iterable<MeterDefinition>;
  accountId: string;
  nowMs: number;
  work: WorkSender;
  log: Logger;
}): Promise<UsageScreenOutcome> {
  try {
    const last = input.sql
      .exec<{ value: string }>("SELECT value FROM meta WHERE key = ?", SCREENED_KEY)
      .toArray()[0];
    if (last && input.nowMs - Number(last.value) < USAGE_SCREEN_INTERVAL_MS) {
      return "not_due";
    }
    const cpuMeters = [...input.meters].filter(isCpuMeter).map((m) => m.key);
    let outcome: UsageScreenOutcome = "no_cpu_meter";
    if (cpuMeters.length > 0) {
      const windowMs = SUSTAINED_CPU_DEFAULTS.windowMinutes * 60_000;
      const placeholders = cpuMeters.map(() => "?").join(", ");
      const buckets = input.sql
        .exec<{ minute_ms: number; quantity: string }>(
          `SELECT minute_ms, quantity FROM minute_buckets
            WHERE meter IN (${placeholders}) AND minute_ms >= ? AND minute_ms < ?`,
          ...cpuMeters,
          input.nowMs - windowMs - 60_000,
          input.nowMs,
        )
        .toArray()
        .map((row): CpuMinute => ({ minuteMs: row.minute_ms, quantity: row.quantity }));
      const { flagged, finding } = detectSustainedCpu(buckets, input.nowMs);
      outcome = flagged ? "flagged" : "clean";
      if (flagged) {
        await input.work.send(
          signalMessage({
            kind: "usage.sustained_cpu",
            sourceId: `sustained-cpu:${Math.floor(finding.windowEndMs / 3_600_000)}`,
            accountId: input.accountId,
            occurredAt: new Date(finding.windowEndMs).toISOString(),
            evidence: { ...finding, meters: cpuMeters },
          }),
        );
        input.log.warn("sustained CPU pattern; risk signal sent", { ...finding });
      }
    }
    input.sql.exec(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      SCREENED_KEY,
      String(input.nowMs),
    );
    return outcome;
  } catch (error) {
    input.log.error("usage screen failed; will retry on a later alarm", { error });
    return "failed";
  }
}
