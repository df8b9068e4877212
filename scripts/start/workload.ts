/**
 * Turns a trace (or the synthetic compute workload) into meterline events for the demo accounts,
 * deterministically: trace rows go round-robin over the accounts, and each account's copy of the
 * trace is moved to 10:00 local time on the latest day whose billing period (plus the invoice
 * grace) has ended, so every replayed period can be invoiced by the end of the run.
 */
import {
  formatIsoDate,
  instantToLocal,
  localToInstant,
  PeriodCalendar,
} from "../../lib/periods/index.ts";
import type { DemoAccount } from "./demo-catalogue.ts";
import { seededRandom, type Trace } from "./trace.ts";

export interface DemoEvent {
  id: string;
  account: string;
  meter: "input_tokens" | "output_tokens" | "requests" | "vcpu";
  value?: string;
  time: string;
  timeMs: number;
  properties: Record<string, string>;
}

export interface Workload {
  kind: "trace" | "synthetic";
  description: string;
  events: DemoEvent[];
  /** The local day each account's usage was placed on, `YYYY-MM-DD`. */
  days: Record<string, string>;
  /** Time-weighted meter settings the independent check needs. */
  heartbeatSeconds: number;
}

const DAILY = { unit: "day", count: 1, anchorDate: "2000-01-01" } as const;

/**
 * The latest local day of `zone` whose end plus `graceMs` (and a safety margin) is already past
 * at `nowMs`: the day the demo places an account's usage on.
 */
export function replayDay(
  zone: string,
  nowMs: number,
  graceMs: number,
): { date: string; startMs: number; endMs: number } {
  const calendar = new PeriodCalendar(DAILY, zone);
  let day = calendar.previous(calendar.containing(nowMs));
  const marginMs = 10 * 60_000;
  while (day.endMs + graceMs + marginMs > nowMs) {
    day = calendar.previous(day);
  }
  return {
    date: formatIsoDate(instantToLocal(zone, day.startMs)),
    startMs: day.startMs,
    endMs: day.endMs,
  };
}

function tenOClock(zone: string, date: string): number {
  const [year, month, day] = date.split("-").map(Number) as [number, number, number];
  return localToInstant(zone, { year, month, day, hour: 10, minute: 0, second: 0 });
}

/** The trace replayed round-robin over `accounts`: three events per request. */
export function traceWorkload(
  trace: Trace,
  accounts: DemoAccount[],
  nowMs: number,
  graceMs: number,
): Workload {
  const firstMs = trace.rows[0]?.timeMs ?? 0;
  const days: Record<string, string> = {};
  const shift = new Map<string, number>();
  for (const account of accounts) {
    const day = replayDay(account.timeZone, nowMs, graceMs);
    days[account.id] = day.date;
    shift.set(account.id, tenOClock(account.timeZone, day.date) - firstMs);
  }
  const events: DemoEvent[] = [];
  trace.rows.forEach((row, i) => {
    const account = accounts[i % accounts.length] as DemoAccount;
    const timeMs = row.timeMs + (shift.get(account.id) ?? 0);
    const time = new Date(timeMs).toISOString();
    const id = `${row.source}-${row.row}`;
    const properties = { source: row.source };
    events.push(
      {
        id: `${id}-in`,
        account: account.id,
        meter: "input_tokens",
        value: String(row.contextTokens),
        time,
        timeMs,
        properties,
      },
      {
        id: `${id}-out`,
        account: account.id,
        meter: "output_tokens",
        value: String(row.generatedTokens),
        time,
        timeMs,
        properties,
      },
      { id: `${id}-req`, account: account.id, meter: "requests", time, timeMs, properties },
    );
  });
  return { kind: "trace", description: trace.description, events, days, heartbeatSeconds: 120 };
}

const LEVELS = ["0.5", "1", "2", "4"] as const;

/**
 * The synthetic workload: per-second compute. Each account runs 1–4 deployments during one hour
 * (10:00–11:00 local on its replay day), each reporting its vCPU level every 10 s; levels change
 * now and then; most deployments end with a stop sample (level 0), some just go silent (a crashed
 * reporter, which must not be billed for its silence). Seed 20231116: identical on every machine.
 */
export function syntheticWorkload(
  accounts: DemoAccount[],
  nowMs: number,
  graceMs: number,
): Workload {
  const random = seededRandom(20231116);
  const events: DemoEvent[] = [];
  const days: Record<string, string> = {};
  for (const account of accounts) {
    const day = replayDay(account.timeZone, nowMs, graceMs);
    days[account.id] = day.date;
    const hourStart = tenOClock(account.timeZone, day.date);
    const deployments = 1 + Math.floor(random() * 4);
    for (let d = 0; d < deployments; d += 1) {
      const deployment = `${account.id}-dep-${d + 1}`;
      const startSecond = Math.floor(random() * 1800);
      const runSeconds = 600 + Math.floor(random() * 1800);
      const crashes = random() < 0.25;
      let level: string = LEVELS[Math.floor(random() * LEVELS.length)] as string;
      for (let s = 0; s <= runSeconds; s += 10) {
        if (random() < 0.05) {
          level = LEVELS[Math.floor(random() * LEVELS.length)] as string;
        }
        const last = s + 10 > runSeconds;
        const value = last && !crashes ? "0" : level;
        const timeMs = hourStart + (startSecond + s) * 1000;
        events.push({
          id: `${deployment}-${s}`,
          account: account.id,
          meter: "vcpu",
          value,
          time: new Date(timeMs).toISOString(),
          timeMs,
          properties: { deployment },
        });
      }
    }
  }
  events.sort((a, b) => a.timeMs - b.timeMs || a.id.localeCompare(b.id));
  return {
    kind: "synthetic",
    description: "synthetic per-second compute workload (seed 20231116)",
    events,
    days,
    heartbeatSeconds: 120,
  };
}

/** Extra accounts for the synthetic workload ("many accounts"), on rotating plans and zones. */
export function syntheticAccounts(count: number): DemoAccount[] {
  const zones = [
    "UTC",
    "Europe/London",
    "America/Chicago",
    "Asia/Singapore",
    "Europe/Paris",
    "America/Sao_Paulo",
  ];
  return Array.from({ length: count }, (_, i) => ({
    id: `node-${String(i + 1).padStart(2, "0")}`,
    name: `Node customer ${i + 1}`,
    plan: i % 2 === 0 ? "scale" : "starter",
    currency: "USD",
    timeZone: zones[i % zones.length] as string,
    collectionMethod: "charge_automatically",
    card: "pm_card_visa",
  }));
}
