import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect, vi } from "vitest";
import type { AccountMeter } from "../../../durable-objects/account-meter.ts";
import { meterFor } from "../../../functions/meters.ts";
import { type Database, openDatabase } from "../../../lib/adapters/postgres.ts";
import {
  type CloseDeps,
  type CloseOutcome,
  closeInvoicePeriod,
} from "../../../lib/billing/close-period.ts";
import type { InvoiceJobMessage, PaymentCollectMessage } from "../../../lib/billing/job-message.ts";
import { pipelineGaps, readPeriodUsage } from "../../../lib/billing/pipeline-check.ts";
import type { Aggregation } from "../../../lib/catalogue/meter.ts";
import { type Clock, FixedClock } from "../../../lib/clock/clock.ts";
import { configFor } from "../../../lib/env/config.ts";
import { createIdGenerator } from "../../../lib/ids/ids.ts";
import { type InvoiceDocument, readInvoiceDocument } from "../../../lib/invoicing/invoices.ts";
import { silentLogger } from "../../../lib/log/logger.ts";
import type { Period } from "../../../lib/periods/period.ts";
import { PeriodCalendar } from "../../../lib/periods/period-calendar.ts";
import { callJson, unique } from "../support/http.ts";

export const MONTHLY = { unit: "month", count: 1, anchorDay: 1 } as const;
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** A Postgres pool for one test step; end it when done. */
export function testDb(): Database {
  return openDatabase(configFor(env).database, { max: 3 });
}

/** Runs SQL against the test database (set-up and inspection). */
export async function sql<Row = Record<string, unknown>>(
  text: string,
  params: unknown[] = [],
): Promise<Row[]> {
  const db = testDb();
  try {
    return (await db.query<Row>(text, params)).rows;
  } finally {
    await db.end();
  }
}

export function meterOf(accountId: string): DurableObjectStub<AccountMeter> {
  return env.ACCOUNT_METER.get(env.ACCOUNT_METER.idFromName(accountId));
}

/**
 * The last period of `interval` that ended before now (real time), in `zone`: a closed period
 * whose events are still inside the meter's late-arrival window, whatever day the suite runs.
 */
export function lastClosedPeriod(interval: object = MONTHLY, zone = "UTC"): Period {
  const calendar = new PeriodCalendar(interval, zone);
  return calendar.previous(calendar.containing(Date.now()));
}

export interface MeterSeed {
  key: string;
  aggregation?: Aggregation;
  valueProperty?: string | null;
}

/** Inserts platform meters (unique keys per test file) and bumps the meters revision. */
export async function seedMeters(meters: MeterSeed[]): Promise<void> {
  for (const m of meters) {
    await sql(
      `insert into meters (key, name, aggregation, unit, value_property)
       values ($1, initcap($1), $2, 'unit', $3)`,
      [m.key, m.aggregation ?? "sum", m.valueProperty ?? null],
    );
  }
  await sql("update catalogue_state set meters_revision = meters_revision + 1");
}

export interface VersionSeed {
  effectiveFrom?: string;
  baseFee?: string;
  currency?: string;
  prices: Record<string, unknown>;
}

/** A plan with versions (effective long ago unless told); returns the plan and version ids. */
export async function seedPlan(
  versions: VersionSeed[],
): Promise<{ planId: string; versionIds: string[] }> {
  const planId = unique("plan");
  await sql("insert into plans (id, key, name) values ($1, $1, $1)", [planId]);
  const versionIds: string[] = [];
  for (const [index, v] of versions.entries()) {
    const id = `${planId}-v${index + 1}`;
    versionIds.push(id);
    await sql(
      `insert into plan_versions (id, plan_id, version, effective_from, currency, base_fee, prices)
       values ($1, $2, $3, $4, $5, $6, $7)`,
      [
        id,
        planId,
        index + 1,
        v.effectiveFrom ?? "2000-01-01T00:00:00Z",
        v.currency ?? "USD",
        v.baseFee ?? "0",
        JSON.stringify(v.prices),
      ],
    );
  }
  return { planId, versionIds };
}

export interface AccountSeed {
  planId?: string;
  /** When the account was created: its first billing period contains this instant. */
  createdAtMs: number;
  currency?: string;
  timeZone?: string;
  interval?: object;
  collectionMethod?: "charge_automatically" | "send_invoice";
  netTermsDays?: number;
  poNumber?: string | null;
  taxRates?: { name: string; percent: string }[];
  notificationUrl?: string | null;
  budget?: string | null;
  alertPercents?: number[];
  hardCap?: boolean;
  name?: string;
}

/** An account written straight into the catalogue, on `planId` from its creation. */
export async function seedAccount(seed: AccountSeed): Promise<string> {
  const id = unique("acct");
  await sql(
    `insert into accounts (id, name, email, currency, time_zone, billing_interval,
                           collection_method, net_terms_days, po_number, tax_rates,
                           notification_url, spend_budget, spend_alert_percents, spend_hard_cap,
                           created_at, updated_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15)`,
    [
      id,
      seed.name ?? `Customer ${id}`,
      `${id}@example.test`,
      seed.currency ?? "USD",
      seed.timeZone ?? "UTC",
      JSON.stringify(seed.interval ?? MONTHLY),
      seed.collectionMethod ?? "charge_automatically",
      seed.netTermsDays ?? 0,
      seed.poNumber ?? null,
      JSON.stringify(seed.taxRates ?? []),
      seed.notificationUrl ?? null,
      seed.budget ?? null,
      seed.alertPercents ?? [50, 80, 100],
      seed.hardCap ?? false,
      new Date(seed.createdAtMs).toISOString(),
    ],
  );
  if (seed.planId) {
    await sql(
      "insert into account_plans (account_id, plan_id, effective_from) values ($1, $2, $3)",
      [id, seed.planId, new Date(seed.createdAtMs).toISOString()],
    );
  }
  return id;
}

/** Pins the account meter's clock; returns it so the test can move it. */
export async function pinMeterClock(accountId: string, atMs: number): Promise<FixedClock> {
  const clock = new FixedClock(atMs);
  await runInDurableObject(meterOf(accountId), (instance: AccountMeter) => {
    instance.clock = clock;
  });
  return clock;
}

export interface EventSeed {
  id: string;
  meter: string;
  value?: string;
  timeMs: number;
}

/** Sends events through `POST /v1/events` with the admin key; all must be accepted. */
export async function sendEvents(accountId: string, events: EventSeed[]): Promise<void> {
  const summary = await callJson<{ accepted: number; rejected: unknown[] }>("/v1/events", 202, {
    body: events.map((e) => ({
      account: accountId,
      id: e.id,
      meter: e.meter,
      ...(e.value === undefined ? {} : { value: e.value }),
      time: new Date(e.timeMs).toISOString(),
    })),
  });
  expect(summary).toMatchObject({ accepted: events.length, rejected: [] });
}

/** Runs the meter's alarm now: its outbox goes to the real rated-usage queue. */
export async function flushMeter(accountId: string): Promise<void> {
  await runDurableObjectAlarm(meterOf(accountId));
}

/**
 * Waits until the ledger holds exactly what the account meter counted for the period (the real
 * rated-usage queue and consumer deliver it asynchronously), flushing the meter's outbox first.
 */
export async function waitForLedger(accountId: string, period: Period): Promise<void> {
  await flushMeter(accountId);
  await vi.waitFor(
    async () => {
      const totals = await meterFor(env, accountId).periodTotals(accountId, period.startMs);
      const db = testDb();
      try {
        const ledger = await readPeriodUsage(db, accountId, period.startMs);
        expect(pipelineGaps(totals.totals, ledger)).toEqual([]);
        expect(totals.totals.length).toBeGreaterThan(0);
      } finally {
        await db.end();
      }
    },
    { timeout: 20_000, interval: 250 },
  );
}

/** What a job sent to the queues, captured instead of sent. */
export interface Captured {
  payments: PaymentCollectMessage[];
  jobs: InvoiceJobMessage[];
}

/**
 * Runs the invoice job for one period directly (lib/billing/close-period.ts) with the real
 * database and account meter, a pinned clock, and capturing queues.
 */
export async function closePeriod(
  accountId: string,
  period: Period,
  options: {
    nowMs?: number;
    db?: Database;
    meter?: CloseDeps["meter"];
    attempts?: number;
    dueByMs?: number;
    runId?: string | null;
  } = {},
): Promise<{ outcome: CloseOutcome; captured: Captured }> {
  const clock: Clock = new FixedClock(options.nowMs ?? period.endMs + 2 * HOUR_MS);
  const captured: Captured = { payments: [], jobs: [] };
  const db = options.db ?? testDb();
  try {
    const outcome = await closeInvoicePeriod(
      {
        db,
        meter: options.meter ?? ((id) => meterFor(env, id)),
        work: { send: async (body) => void captured.payments.push(body) },
        jobs: { send: async (body) => void captured.jobs.push(body) },
        clock,
        ids: createIdGenerator(() => clock.nowMs()),
        log: silentLogger,
      },
      {
        v: 1,
        kind: "invoice.close_period",
        accountId,
        periodStartMs: period.startMs,
        periodEndMs: period.endMs,
        runId: options.runId ?? null,
        dueByMs: options.dueByMs ?? clock.nowMs() - HOUR_MS,
      },
      options.attempts ?? 1,
    );
    return { outcome, captured };
  } finally {
    if (!options.db) {
      await db.end();
    }
  }
}

/** The invoicing cursor of an account, creating it at the period containing its creation. */
export async function initCursor(accountId: string, period: Period): Promise<void> {
  await sql(
    `insert into account_billing (account_id, next_period_start, next_period_end, updated_at)
     values ($1, $2, $3, now()) on conflict (account_id) do nothing`,
    [accountId, new Date(period.startMs).toISOString(), new Date(period.endMs).toISOString()],
  );
}

/** The account's invoice for a period, with everything on it; null when there is none. */
export async function invoiceFor(
  accountId: string,
  period: Period,
): Promise<InvoiceDocument | null> {
  const [row] = await sql<{ id: string }>(
    "select id from invoices where account_id = $1 and period_start = $2",
    [accountId, new Date(period.startMs).toISOString()],
  );
  if (!row) {
    return null;
  }
  const db = testDb();
  try {
    return await readInvoiceDocument(db, row.id);
  } finally {
    await db.end();
  }
}

/**
 * The invoice numbering invariant, over every invoice the invoice run finalized (those with an
 * `invoice.finalized` audit record by the job; other suites seed invoices by hand): their numbers
 * are exactly INV-1 … INV-(next − 1), each once. Read in one snapshot.
 */
export async function expectGaplessNumbers(): Promise<void> {
  const [row] = await sql<{ next: string; numbers: string[] | null }>(
    `select (select next_number::text from invoice_number_series where series = 'INV') as next,
            (select array_agg(i.number order by i.number) from invoices i
              where exists (select 1 from audit_log a where a.subject_id = i.id
                              and a.action = 'invoice.finalized'
                              and a.actor = 'system:invoice-run')) as numbers`,
  );
  const taken = Number(row?.next) - 1;
  const numbers = (row?.numbers ?? [])
    .map((n) => Number(n.replace(/^INV-/, "")))
    .sort((a, b) => a - b);
  expect(numbers).toEqual(Array.from({ length: taken }, (_, i) => i + 1));
}

export { DAY_MS, HOUR_MS };
