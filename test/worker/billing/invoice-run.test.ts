/**
 * The invoice cycle end to end against the real local stack: events through the API into the
 * account meter, the real rated-usage queue into the Postgres ledger, then the invoice job
 * (sealing, waiting for the pipeline, lines, taxes, finalization with a gapless number) and the
 * run that enqueues it — including the failure cases: a repeated or concurrent job, a crash in
 * the middle of finalization, a pipeline that has not delivered yet.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { meterFor } from "../../../functions/meters.ts";
import type { Database, Queryable } from "../../../lib/adapters/postgres.ts";
import type { BillingMeter } from "../../../lib/billing/close-period.ts";
import { FixedClock } from "../../../lib/clock/clock.ts";
import { createInvoiceJobsConsumer } from "../../../queues/invoice-jobs.ts";
import { callJson, unique } from "../support/http.ts";
import {
  type AccountSeed,
  closePeriod,
  DAY_MS,
  expectGaplessNumbers,
  HOUR_MS,
  initCursor,
  invoiceFor,
  lastClosedPeriod,
  pinMeterClock,
  seedAccount,
  seedMeters,
  seedPlan,
  sendEvents,
  sql,
  testDb,
  waitForLedger,
} from "./support.ts";

const TOKENS = unique("tokens");
const CALLS = unique("calls");
const PERIOD = lastClosedPeriod();
let planId = "";

const GRADUATED = {
  model: "graduated",
  tiers: [
    { upTo: "100", unitPrice: "0.003" },
    { upTo: "1000", unitPrice: "0.0015", flatFee: "2" },
    { upTo: null, unitPrice: "0.001" },
  ],
};

beforeAll(async () => {
  await seedMeters([{ key: TOKENS }, { key: CALLS, aggregation: "count" }]);
  ({ planId } = await seedPlan([
    {
      baseFee: "20",
      prices: { [TOKENS]: GRADUATED, [CALLS]: { model: "per_unit", unitPrice: "0.5" } },
    },
  ]));
});

/** An account on the plan since the period began, with 150 tokens and 3 calls in it. */
async function accountWithUsage(fields: Partial<AccountSeed> = {}) {
  const accountId = await seedAccount({
    planId,
    createdAtMs: PERIOD.startMs,
    taxRates: [{ name: "VAT", percent: "20" }],
    ...fields,
  });
  const atMs = PERIOD.endMs - 2 * DAY_MS;
  await pinMeterClock(accountId, atMs + HOUR_MS);
  await sendEvents(accountId, [
    { id: "t1", meter: TOKENS, value: "100", timeMs: atMs },
    { id: "t2", meter: TOKENS, value: "50", timeMs: atMs + 1000 },
    { id: "c1", meter: CALLS, timeMs: atMs },
    { id: "c2", meter: CALLS, timeMs: atMs + 1 },
    { id: "c3", meter: CALLS, timeMs: atMs + 2 },
  ]);
  return accountId;
}

/** The lines of an invoice as compact rows: kind, meter, tier, quantity, unit price, minor, tax. */
function lineRows(doc: NonNullable<Awaited<ReturnType<typeof invoiceFor>>>) {
  return doc.lines.map((l) => [
    l.kind,
    l.meter,
    l.tier,
    l.quantity === null ? null : Number(l.quantity),
    l.unitPrice === null ? null : Number(l.unitPrice),
    Number(l.amountMinor),
    Number(l.taxMinor),
  ]);
}

describe("invoice job", () => {
  it("closes the period into one finalized invoice built from the ledger", async () => {
    const accountId = await accountWithUsage();
    await initCursor(accountId, PERIOD);
    await waitForLedger(accountId, PERIOD);
    const nowMs = PERIOD.endMs + 2 * HOUR_MS;
    const { outcome, captured } = await closePeriod(accountId, PERIOD, { nowMs });
    expect(outcome).toMatchObject({ action: "ack", result: "finalized" });

    const doc = await invoiceFor(accountId, PERIOD);
    expect(doc).not.toBeNull();
    const { invoice } = doc as NonNullable<typeof doc>;
    expect(lineRows(doc as NonNullable<typeof doc>)).toEqual([
      ["base_fee", null, null, null, null, 2000, 400],
      ["usage", CALLS, null, 3, 0.5, 150, 30],
      ["usage", TOKENS, 1, 100, 0.003, 30, 6],
      ["usage", TOKENS, 2, 50, 0.0015, 208, 42],
    ]);
    expect(doc?.taxes).toEqual([
      { name: "VAT", percent: "20", taxableMinor: 2388n, taxMinor: 478n },
    ]);
    expect({
      status: invoice.status,
      subtotal: invoice.subtotalMinor,
      tax: invoice.taxMinor,
      total: invoice.totalMinor,
      due: invoice.amountDueMinor,
      finalizedAt: invoice.finalizedAtMs,
      dueAt: invoice.dueAtMs,
      number: /^INV-\d{6,}$/.test(invoice.number ?? ""),
    }).toEqual({
      status: "open",
      subtotal: 2388n,
      tax: 478n,
      total: 2866n,
      due: 2866n,
      finalizedAt: nowMs,
      dueAt: nowMs,
      number: true,
    });
    // Charged automatically: payments is asked to collect it; the cursor moved on.
    expect(captured.payments).toEqual([{ v: 1, kind: "payment.collect", invoiceId: invoice.id }]);
    const [cursor] = await sql<{ start: Date }>(
      "select next_period_start as start from account_billing where account_id = $1",
      [accountId],
    );
    expect(cursor?.start.getTime()).toBe(PERIOD.endMs);
    const audit = await sql<{ action: string }>(
      "select action from audit_log where subject_id = $1 order by seq",
      [invoice.id],
    );
    expect(audit.map((a) => a.action)).toEqual(["invoice.finalized"]);
    await expectGaplessNumbers();
  });

  it("refuses later events for the sealed period with PERIOD_CLOSED", async () => {
    const accountId = await accountWithUsage();
    await initCursor(accountId, PERIOD);
    await waitForLedger(accountId, PERIOD);
    await closePeriod(accountId, PERIOD);
    await pinMeterClock(accountId, PERIOD.endMs + 2 * HOUR_MS);
    const late = await callJson<{ accepted: number; rejected: { code: string }[] }>(
      "/v1/events",
      202,
      {
        body: [
          {
            account: accountId,
            id: "late-1",
            meter: TOKENS,
            value: "5",
            time: new Date(PERIOD.endMs - DAY_MS).toISOString(),
          },
        ],
      },
    );
    expect(late.accepted).toBe(0);
    expect(late.rejected.map((r) => r.code)).toEqual(["PERIOD_CLOSED"]);
  });

  it("waits for the pipeline: retries while the ledger lacks what the meter sealed", async () => {
    const accountId = await accountWithUsage();
    await initCursor(accountId, PERIOD);
    await waitForLedger(accountId, PERIOD);
    // The meter reports one more event than the ledger holds, as when a batch is in flight.
    const lagging = (id: string): BillingMeter => ({
      async seal(accountId, startMs, endMs) {
        const totals = await meterFor(env, id).seal(accountId, startMs, endMs);
        return {
          ...totals,
          totals: totals.totals.map((t) =>
            t.meter === CALLS ? { ...t, quantity: "4", amount: "2", events: 4 } : t,
          ),
        };
      },
      syncCredits: (accountId, snapshot) => meterFor(env, id).syncCredits(accountId, snapshot),
    });
    const first = await closePeriod(accountId, PERIOD, { meter: lagging, attempts: 3 });
    expect(first.outcome).toMatchObject({
      action: "retry",
      reason: "pipeline_lag",
      gaps: [
        {
          meter: CALLS,
          meterTotals: { quantity: "4", amount: "2", events: 4 },
          ledgerTotals: { quantity: "3", amount: "1.5", events: 3 },
        },
      ],
    });
    // Claimed as a draft, nothing billed yet, no payment asked for.
    expect((await invoiceFor(accountId, PERIOD))?.invoice).toMatchObject({
      status: "draft",
      number: null,
      totalMinor: 0n,
    });
    expect(first.captured.payments).toEqual([]);
    const second = await closePeriod(accountId, PERIOD);
    expect(second.outcome).toMatchObject({ action: "ack", result: "finalized" });
    expect((await invoiceFor(accountId, PERIOD))?.invoice.totalMinor).toBe(2866n);
  });

  it("finalizes once when the same job runs several times at once (cron twice, overlap)", async () => {
    const accountId = await accountWithUsage();
    await initCursor(accountId, PERIOD);
    await waitForLedger(accountId, PERIOD);
    const runs = await Promise.all([1, 2, 3, 4].map(() => closePeriod(accountId, PERIOD)));
    const results = runs.map((r) =>
      r.outcome.action === "ack" ? r.outcome.result : r.outcome.action,
    );
    expect(results.filter((r) => r === "finalized")).toHaveLength(1);
    expect(results.filter((r) => r === "already_closed")).toHaveLength(3);
    const invoices = await sql<{ id: string; number: string }>(
      "select id, number from invoices where account_id = $1",
      [accountId],
    );
    expect(invoices).toHaveLength(1);
    const lines = await sql<{ n: string }>(
      "select count(*)::text as n from invoice_lines where invoice_id = $1",
      [invoices[0]?.id],
    );
    expect(lines[0]?.n).toBe("4");
    // Every run that saw it open asks payments to collect the same invoice (payments dedups).
    const asked = new Set(runs.flatMap((r) => r.captured.payments.map((p) => p.invoiceId)));
    expect([...asked]).toEqual([invoices[0]?.id]);
    await expectGaplessNumbers();
  });

  it("rolls back a finalization that crashes after taking a number; the retry finalizes once", async () => {
    const accountId = await accountWithUsage();
    await initCursor(accountId, PERIOD);
    await waitForLedger(accountId, PERIOD);
    const real = testDb();
    // A database whose transactions die on the statement after the one that takes the number
    // from the series: as if the Worker crashed holding a number.
    const crashing: Database = {
      query: (text, params) => real.query(text, params),
      end: () => real.end(),
      transaction: (work) => {
        let numberTaken = false;
        return real.transaction((tx) =>
          work({
            query(text, params) {
              if (numberTaken) {
                throw new Error("worker crashed (injected)");
              }
              numberTaken = text.includes("update invoice_number_series");
              return tx.query(text, params);
            },
          } satisfies Queryable),
        );
      },
    };
    try {
      await expect(closePeriod(accountId, PERIOD, { db: crashing })).rejects.toThrow(
        "worker crashed (injected)",
      );
    } finally {
      await real.end();
    }
    const draft = await invoiceFor(accountId, PERIOD);
    expect(draft?.invoice).toMatchObject({ status: "draft", number: null });
    expect(draft?.lines).toEqual([]);
    await expectGaplessNumbers();

    const retry = await closePeriod(accountId, PERIOD, { attempts: 2 });
    expect(retry.outcome).toMatchObject({ action: "ack", result: "finalized" });
    const done = await invoiceFor(accountId, PERIOD);
    expect(done?.invoice).toMatchObject({
      id: draft?.invoice.id,
      status: "open",
      totalMinor: 2866n,
    });
    await expectGaplessNumbers();
  });

  it("bills the plan version's price when the meter rated with a stale one, and audits it", async () => {
    const { planId: stalePlan, versionIds } = await seedPlan([
      { prices: { [CALLS]: { model: "per_unit", unitPrice: "0.5" } } },
    ]);
    const accountId = await seedAccount({ planId: stalePlan, createdAtMs: PERIOD.startMs });
    await initCursor(accountId, PERIOD);
    await pinMeterClock(accountId, PERIOD.endMs - DAY_MS);
    await sendEvents(accountId, [
      { id: "s1", meter: CALLS, timeMs: PERIOD.endMs - 2 * DAY_MS },
      { id: "s2", meter: CALLS, timeMs: PERIOD.endMs - 2 * DAY_MS + 1 },
    ]);
    await waitForLedger(accountId, PERIOD);
    // The catalogue's version now says 0.75: the meter and the ledger rated 2 × 0.5.
    await sql("update plan_versions set prices = $2 where id = $1", [
      versionIds[0],
      JSON.stringify({ [CALLS]: { model: "per_unit", unitPrice: "0.75" } }),
    ]);
    const { outcome } = await closePeriod(accountId, PERIOD);
    expect(outcome).toMatchObject({ action: "ack", result: "finalized" });
    const doc = await invoiceFor(accountId, PERIOD);
    expect(lineRows(doc as NonNullable<typeof doc>)).toEqual([
      ["usage", CALLS, null, 2, 0.75, 150, 0],
    ]);
    const audit = await sql<{ action: string; before: unknown; after: unknown }>(
      "select action, before, after from audit_log where subject_id = $1 order by seq",
      [doc?.invoice.id],
    );
    expect(audit).toEqual([
      {
        action: "invoice.rating_drift",
        before: { amount: "1" },
        after: { amount: "1.5", quantity: "2" },
      },
      { action: "invoice.finalized", before: { status: "draft" }, after: { status: "open" } },
    ]);
  });

  it("skips a period no plan priced: no invoice, the cursor moves on", async () => {
    const accountId = await seedAccount({ createdAtMs: PERIOD.startMs });
    await initCursor(accountId, PERIOD);
    const { outcome } = await closePeriod(accountId, PERIOD);
    expect(outcome).toMatchObject({ action: "ack", result: "skipped_no_plan" });
    expect(await invoiceFor(accountId, PERIOD)).toBeNull();
    const [cursor] = await sql<{ start: Date }>(
      "select next_period_start as start from account_billing where account_id = $1",
      [accountId],
    );
    expect(cursor?.start.getTime()).toBe(PERIOD.endMs);
  });

  it("settles a zero invoice at once and asks payments for nothing", async () => {
    const { planId: freePlan } = await seedPlan([{ prices: { [TOKENS]: GRADUATED } }]);
    const accountId = await seedAccount({ planId: freePlan, createdAtMs: PERIOD.startMs });
    await initCursor(accountId, PERIOD);
    const { outcome, captured } = await closePeriod(accountId, PERIOD);
    expect(outcome).toMatchObject({ action: "ack", result: "finalized" });
    expect((await invoiceFor(accountId, PERIOD))?.invoice).toMatchObject({
      status: "paid",
      totalMinor: 0n,
      amountDueMinor: 0n,
    });
    expect(captured.payments).toEqual([]);
  });
});

describe("invoice-jobs consumer", () => {
  it("acks a finalized job, retries a lagging one with backoff, drops an unreadable one", async () => {
    const ready = await accountWithUsage({ collectionMethod: "send_invoice", netTermsDays: 30 });
    await initCursor(ready, PERIOD);
    await waitForLedger(ready, PERIOD);
    // Yesterday's usage on a daily account whose meter has not flushed (its clock runs ahead of
    // real time, so its alarm is not due): the ledger lags behind the meter.
    const daily = { unit: "day", count: 1, anchorDate: "2000-01-01" };
    const yesterday = lastClosedPeriod(daily);
    const lagging = await seedAccount({ planId, createdAtMs: yesterday.startMs, interval: daily });
    await initCursor(lagging, yesterday);
    await pinMeterClock(lagging, Date.now() + 10 * 60_000);
    await sendEvents(lagging, [{ id: "x", meter: CALLS, timeMs: yesterday.startMs + HOUR_MS }]);
    const unknown = unique("acct-missing");
    const job = (accountId: string, period = PERIOD) => ({
      v: 1,
      kind: "invoice.close_period",
      accountId,
      periodStartMs: period.startMs,
      periodEndMs: period.endMs,
      runId: null,
      dueByMs: period.endMs,
    });
    const batch = createMessageBatch<unknown>("meterline-invoice-jobs", [
      { id: "ok", timestamp: new Date(), attempts: 1, body: job(ready) },
      { id: "lag", timestamp: new Date(), attempts: 2, body: job(lagging, yesterday) },
      { id: "gone", timestamp: new Date(), attempts: 1, body: job(unknown) },
      { id: "junk", timestamp: new Date(), attempts: 1, body: { v: 1, kind: "nope" } },
    ]);
    // The queue result names retried messages but not their delays: watch them on the way.
    const delays = new Map<string, number | undefined>();
    const observed: MessageBatch<unknown> = {
      queue: batch.queue,
      metadata: batch.metadata,
      messages: batch.messages.map((m) => ({
        id: m.id,
        timestamp: m.timestamp,
        attempts: m.attempts,
        body: m.body,
        ack: () => m.ack(),
        retry: (options?: QueueRetryOptions) => {
          delays.set(m.id, options?.delaySeconds);
          m.retry(options);
        },
      })),
      ackAll: () => batch.ackAll(),
      retryAll: (options?: QueueRetryOptions) => batch.retryAll(options),
    };
    const sent: unknown[] = [];
    const capture = { send: async (body: unknown) => void sent.push(body) } as unknown as Queue;
    const ctx = createExecutionContext();
    const consumer = createInvoiceJobsConsumer(new FixedClock(Date.now()));
    await consumer(observed, { ...env, WORK: capture, INVOICE_JOBS: capture }, ctx);
    const result = await getQueueResult(batch, ctx);
    expect([...result.explicitAcks].sort()).toEqual(["gone", "junk", "ok"]);
    expect(result.retryMessages.map((r) => r.msgId)).toEqual(["lag"]);
    // Second attempt: 30 s doubled.
    expect([...delays]).toEqual([["lag", 60]]);
    // send_invoice: no automatic charge; net 30 from finalization.
    expect(sent).toEqual([]);
    const invoice = (await invoiceFor(ready, PERIOD))?.invoice;
    expect(invoice).toMatchObject({ status: "open", netTermsDays: 30 });
    expect((invoice?.dueAtMs ?? 0) - (invoice?.finalizedAtMs ?? 0)).toBe(30 * DAY_MS);
    expect((await invoiceFor(lagging, yesterday))?.invoice.status).toBe("draft");
  });
});

describe("invoice run", () => {
  it("enqueues each due account once, and the real queue closes every due period", async () => {
    // Created a period early: two periods are due, the job catches up with the second.
    const calendarStart = lastClosedPeriod();
    const accountId = await accountWithUsage({
      collectionMethod: "send_invoice",
      netTermsDays: 14,
      createdAtMs: calendarStart.startMs - 20 * DAY_MS,
    });
    const run = (body: unknown) =>
      callJson<{ enqueued: number; initialized: number }>("/v1/admin/invoice-runs", 200, { body });
    await waitForLedger(accountId, PERIOD);
    const request = { at: new Date().toISOString(), accounts: [accountId], graceSeconds: 0 };
    // Two runs at once (the cron firing twice, or a QStash schedule and the cron overlapping)
    // claim the account once between them.
    const [a, b] = await Promise.all([run(request), run(request)]);
    expect(a.enqueued + b.enqueued).toBe(1);
    // A later firing adds nothing while the job is pending.
    expect(await run(request)).toMatchObject({ initialized: 0, enqueued: 0 });
    await vi.waitFor(
      async () => {
        const invoices = await sql<{ status: string; start: Date }>(
          "select status, period_start as start from invoices where account_id = $1 order by period_start",
          [accountId],
        );
        expect(invoices.map((i) => i.status)).toEqual(["open", "open"]);
        expect(invoices[1]?.start.getTime()).toBe(PERIOD.startMs);
      },
      { timeout: 30_000, interval: 250 },
    );
    const doc = await invoiceFor(accountId, PERIOD);
    expect(doc?.invoice.totalMinor).toBe(2866n);
    await expectGaplessNumbers();
  });

  it("refuses a run as of a future instant", async () => {
    const response = await callJson<{ code: string; errors: { field: string; code: string }[] }>(
      "/v1/admin/invoice-runs",
      422,
      { body: { at: new Date(Date.now() + DAY_MS).toISOString() } },
    );
    expect(response.errors).toEqual([
      { field: "/at", code: "in_future", detail: expect.any(String) },
    ]);
  });
});
