import type { Queryable } from "../adapters/postgres.ts";
import type { Stripe } from "../adapters/stripe.ts";
import { AppError } from "../errors/index.ts";
import { adoptIntent } from "./adopt.ts";
import { IN_FLIGHT_STATUSES } from "./attempt-state.ts";
import {
  ATTEMPT_COLUMNS,
  type Attempt,
  applyAttemptState,
  attemptById,
  attemptOfIntent,
  toAttempt,
} from "./attempts.ts";
import type { PaymentDeps, TxContext } from "./deps.ts";
import { tryLockInvoice } from "./invoice-lock.ts";
import { collectMessage } from "./messages.ts";
import { recordRefund } from "./refunds.ts";
import { settleInvoicePaid } from "./settlement.ts";
import { idOf, intentAmountMinor, intentsOfInvoice, retrieveIntent } from "./stripe-intents.ts";

/**
 * Reconciliation: Stripe's PaymentIntents and refunds created in a window against meterline's
 * attempts, refunds and invoices. What is safe to repair is repaired — a charge without a record
 * is adopted, an attempt Stripe never saw is closed (and the invoice collected again), a state
 * we are behind on is advanced, a refund we missed is recorded, a paid attempt's invoice is
 * settled. What is not safe is reported: amounts or currencies that differ, a second successful
 * charge, an intent naming an unknown invoice. Every run's report is stored.
 */

/** An in-flight attempt younger than this may still be on its way to Stripe; left alone. */
export const RECONCILE_MIN_AGE_MS = 15 * 60_000;
const PAGE_SIZE = 100;
const ACTOR = "system:reconciliation";

export type RepairKind =
  | "adopted_charge"
  | "status_advanced"
  | "attempt_not_at_stripe"
  | "refund_recorded"
  | "invoice_settled";

export type MismatchKind =
  | "amount_mismatch"
  | "currency_mismatch"
  | "status_mismatch"
  | "duplicate_charge"
  | "unknown_invoice"
  | "unrecorded_intent"
  | "invoice_not_payable"
  | "refund_amount_mismatch"
  | "refund_not_at_stripe";

export interface Finding<K extends string> {
  kind: K;
  invoiceId: string | null;
  attemptId: string | null;
  stripeId: string | null;
  detail: string;
  /** What meterline has, and what Stripe has, where they differ. */
  ours?: string | null;
  stripe?: string | null;
}

export interface ReconciliationReport {
  id: string;
  trigger: "cron" | "admin";
  fromMs: number;
  toMs: number;
  accountId: string | null;
  startedAtMs: number;
  finishedAtMs: number;
  checked: { paymentIntents: number; attempts: number; refunds: number };
  repairs: Finding<RepairKind>[];
  mismatches: Finding<MismatchKind>[];
  /** Items left for a later run because a collection held the invoice or they are too new. */
  skipped: Finding<"in_flight" | "too_recent">[];
}

interface RunState {
  deps: PaymentDeps;
  accountId: string | null;
  report: ReconciliationReport;
  /** Attempt ids already compared with Stripe in this run. */
  seen: Set<string>;
}

function ctxOf(deps: PaymentDeps): TxContext {
  return { ids: deps.ids, nowMs: deps.clock.nowMs(), actor: ACTOR, log: deps.log };
}

/** Runs `work` holding the invoice lock; null when a collection holds it right now. */
async function withInvoice<T>(
  deps: PaymentDeps,
  invoiceId: string,
  work: (tx: Queryable, ctx: TxContext) => Promise<T>,
): Promise<{ done: T } | null> {
  return deps.db.transaction(async (tx) => {
    if (!(await tryLockInvoice(tx, invoiceId))) {
      return null;
    }
    return { done: await work(tx, ctxOf(deps)) };
  });
}

async function listIntents(
  stripe: Stripe,
  fromMs: number,
  toMs: number,
): Promise<Stripe.PaymentIntent[]> {
  const out: Stripe.PaymentIntent[] = [];
  const created = { gte: Math.floor(fromMs / 1000), lt: Math.ceil(toMs / 1000) };
  let after: string | undefined;
  for (;;) {
    const page = await stripe.paymentIntents.list({
      created,
      limit: PAGE_SIZE,
      ...(after ? { starting_after: after } : {}),
    });
    out.push(...page.data);
    const last = page.data.at(-1);
    if (!page.has_more || !last) {
      return out;
    }
    after = last.id;
  }
}

async function listRefunds(stripe: Stripe, fromMs: number, toMs: number): Promise<Stripe.Refund[]> {
  const out: Stripe.Refund[] = [];
  const created = { gte: Math.floor(fromMs / 1000), lt: Math.ceil(toMs / 1000) };
  let after: string | undefined;
  for (;;) {
    const page = await stripe.refunds.list({
      created,
      limit: PAGE_SIZE,
      ...(after ? { starting_after: after } : {}),
    });
    out.push(...page.data);
    const last = page.data.at(-1);
    if (!page.has_more || !last) {
      return out;
    }
    after = last.id;
  }
}

function mismatch(state: RunState, finding: Finding<MismatchKind>): void {
  state.report.mismatches.push(finding);
}

function repair(state: RunState, finding: Finding<RepairKind>): void {
  state.report.repairs.push(finding);
}

/** Compares one intent with its attempt (or adopts it) and repairs what is safe. */
async function checkIntent(state: RunState, intent: Stripe.PaymentIntent): Promise<void> {
  const { deps } = state;
  const metadata = (intent.metadata ?? {}) as Record<string, string | undefined>;
  let attempt = await attemptOfIntent(deps.db, intent.id);
  if (!attempt && metadata.attempt_id) {
    const named = await attemptById(deps.db, metadata.attempt_id);
    attempt = named && named.stripePaymentIntentId === null ? named : null;
  }
  const invoiceId = attempt?.invoiceId ?? metadata.invoice_id ?? null;
  const base = { invoiceId, attemptId: attempt?.id ?? null, stripeId: intent.id };
  const invoice =
    invoiceId === null
      ? undefined
      : (
          await deps.db.query<{ status: string; currency: string; amount_due_minor: string }>(
            "select status, currency, amount_due_minor::text as amount_due_minor from invoices where id = $1",
            [invoiceId],
          )
        ).rows[0];
  if (invoiceId === null || !invoice) {
    mismatch(state, {
      kind: "unknown_invoice",
      ...base,
      detail: "the intent names no known invoice",
    });
    return;
  }
  const amount = intentAmountMinor(intent);
  const currency = intent.currency.toUpperCase();
  if (attempt) {
    state.seen.add(attempt.id);
    let differs = false;
    if (attempt.amountMinor !== amount) {
      differs = true;
      mismatch(state, {
        kind: "amount_mismatch",
        ...base,
        detail: "the attempt's amount differs from the PaymentIntent's",
        ours: attempt.amountMinor.toString(),
        stripe: amount.toString(),
      });
    }
    if (attempt.currency !== currency) {
      differs = true;
      mismatch(state, {
        kind: "currency_mismatch",
        ...base,
        detail: "the attempt's currency differs from the PaymentIntent's",
        ours: attempt.currency,
        stripe: currency,
      });
    }
    if (attempt.status === "succeeded" && intent.status !== "succeeded") {
      mismatch(state, {
        kind: "status_mismatch",
        ...base,
        detail: "meterline recorded a success Stripe does not show",
        ours: attempt.status,
        stripe: intent.status,
      });
      return;
    }
    if (differs) {
      // Advancing the state would settle the invoice with a figure Stripe disagrees with.
      return;
    }
  } else if (intent.status === "succeeded" || intent.status === "processing") {
    const due = BigInt(invoice.amount_due_minor);
    if (due !== amount || invoice.currency.trim() !== currency) {
      mismatch(state, {
        kind: due !== amount ? "amount_mismatch" : "currency_mismatch",
        ...base,
        detail: "an unrecorded charge differs from the invoice; adopted as charged",
        ours: `${due} ${invoice.currency.trim()}`,
        stripe: `${amount} ${currency}`,
      });
    }
  } else {
    mismatch(state, {
      kind: "unrecorded_intent",
      ...base,
      detail: `an intent of the invoice that meterline has no attempt for (${intent.status})`,
      stripe: intent.status,
    });
    return;
  }
  const applied = await withInvoice(deps, invoiceId, (tx, ctx) =>
    adoptIntent(tx, ctx, intent, null, "reconciliation"),
  );
  if (applied === null) {
    state.report.skipped.push({
      kind: "in_flight",
      ...base,
      detail: "a collection of the invoice was running",
    });
    return;
  }
  const result = applied.done;
  if (result.kind === "duplicate_charge") {
    mismatch(state, {
      kind: "duplicate_charge",
      ...base,
      attemptId: result.existingAttemptId,
      detail: "a second successful charge for an invoice that is already paid",
    });
    return;
  }
  if (result.kind === "applied") {
    state.seen.add(result.attempt.id);
    if (result.adopted) {
      repair(state, {
        kind: "adopted_charge",
        ...base,
        attemptId: result.attempt.id,
        detail: `a ${intent.status} PaymentIntent without a record was adopted`,
      });
    } else if (result.changed) {
      repair(state, {
        kind: "status_advanced",
        ...base,
        detail: `the attempt moved ${result.from} -> ${result.attempt.status}`,
        ours: result.from,
        stripe: intent.status,
      });
    }
  }
}

/** Attempts of the window that no listed intent accounted for. */
async function checkAttempt(state: RunState, attempt: Attempt): Promise<void> {
  const { deps } = state;
  const base = {
    invoiceId: attempt.invoiceId,
    attemptId: attempt.id,
    stripeId: attempt.stripePaymentIntentId,
  };
  const nowMs = deps.clock.nowMs();
  if (attempt.status === "succeeded") {
    await checkSettled(state, attempt);
    return;
  }
  if (attempt.stripePaymentIntentId !== null) {
    const intent = await retrieveIntent(deps.stripe, attempt.stripePaymentIntentId);
    if (intent !== null) {
      await checkIntent(state, intent);
      return;
    }
  } else if (!IN_FLIGHT_STATUSES.includes(attempt.status)) {
    return; // Failed without reaching Stripe (no payment method): nothing to compare.
  }
  if (nowMs - attempt.createdAtMs < RECONCILE_MIN_AGE_MS) {
    state.report.skipped.push({ kind: "too_recent", ...base, detail: "may still be on its way" });
    return;
  }
  if (attempt.stripePaymentIntentId === null) {
    const intents = await intentsOfInvoice(deps.stripe, attempt.invoiceId);
    const own = intents.find((intent) => intent.metadata?.attempt_id === attempt.id);
    if (own) {
      await checkIntent(state, own);
      return;
    }
  }
  const closed = await withInvoice(deps, attempt.invoiceId, (tx, ctx) =>
    applyAttemptState(
      tx,
      ctx,
      attempt.id,
      {
        status: "canceled",
        stripeAtMs: null,
        failureCode: "not_at_stripe",
        failureMessage: "Reconciliation found no PaymentIntent for this attempt at Stripe",
      },
      "Reconciliation: Stripe never saw this attempt",
    ),
  );
  if (closed === null) {
    state.report.skipped.push({ kind: "in_flight", ...base, detail: "a collection was running" });
    return;
  }
  if (closed.done.changed) {
    repair(state, {
      kind: "attempt_not_at_stripe",
      ...base,
      detail:
        "Stripe has no PaymentIntent for the attempt; it was closed and the invoice queued for collection",
      ours: closed.done.from,
    });
    // The invoice still needs collecting: the next collection makes a new attempt (after
    // searching Stripe once more).
    await deps.work?.send(collectMessage(attempt.invoiceId));
  }
}

/** A succeeded attempt's invoice must be paid; settle it if it is still open. */
async function checkSettled(state: RunState, attempt: Attempt): Promise<void> {
  const { rows } = await state.deps.db.query<{ status: string }>(
    "select status from invoices where id = $1",
    [attempt.invoiceId],
  );
  const status = rows[0]?.status;
  const base = {
    invoiceId: attempt.invoiceId,
    attemptId: attempt.id,
    stripeId: attempt.stripePaymentIntentId,
  };
  if (status === "paid") {
    return;
  }
  if (status === "open" || status === "uncollectible") {
    const settled = await withInvoice(state.deps, attempt.invoiceId, (tx, ctx) =>
      settleInvoicePaid(tx, ctx, {
        invoiceId: attempt.invoiceId,
        accountId: attempt.accountId,
        attemptId: attempt.id,
        amountMinor: attempt.amountMinor,
      }),
    );
    if (settled !== null) {
      repair(state, {
        kind: "invoice_settled",
        ...base,
        detail: `the ${status} invoice was marked paid`,
      });
    }
    return;
  }
  mismatch(state, {
    kind: "invoice_not_payable",
    ...base,
    detail: `a successful charge for an invoice that is ${status ?? "missing"}`,
    ours: status ?? null,
  });
}

async function checkRefund(state: RunState, refund: Stripe.Refund): Promise<void> {
  const { deps } = state;
  const intentId = idOf(refund.payment_intent as string | { id: string } | null);
  const attempt = intentId === null ? null : await attemptOfIntent(deps.db, intentId);
  if (!attempt || (state.accountId !== null && attempt.accountId !== state.accountId)) {
    return;
  }
  state.report.checked.refunds += 1;
  const base = { invoiceId: attempt.invoiceId, attemptId: attempt.id, stripeId: refund.id };
  const { rows } = await deps.db.query<{ amount_minor: string }>(
    "select amount_minor::text as amount_minor from payment_refunds where id = $1",
    [refund.id],
  );
  const amount = intentAmountMinor(refund);
  if (rows[0]) {
    if (BigInt(rows[0].amount_minor) !== amount) {
      mismatch(state, {
        kind: "refund_amount_mismatch",
        ...base,
        detail: "the recorded refund amount differs from Stripe's",
        ours: rows[0].amount_minor,
        stripe: amount.toString(),
      });
    }
    return;
  }
  const recorded = await withInvoice(deps, attempt.invoiceId, (tx, ctx) =>
    recordRefund(tx, ctx, attempt, refund, `Reconciliation found refund ${refund.id}`),
  );
  if (recorded === null) {
    state.report.skipped.push({ kind: "in_flight", ...base, detail: "a collection was running" });
    return;
  }
  repair(state, { kind: "refund_recorded", ...base, detail: `refund of ${amount} recorded` });
}

/**
 * Reconciles the window [fromMs, toMs) (Stripe `created` for Stripe objects, our `created_at`
 * for attempts), optionally for one account, and stores the report. Throws VALIDATION_FAILED
 * for an empty window; Stripe or Postgres failures propagate (nothing half-reported is stored).
 */
export async function reconcilePayments(
  deps: PaymentDeps,
  request: { fromMs: number; toMs: number; accountId?: string | null; trigger: "cron" | "admin" },
): Promise<ReconciliationReport> {
  if (!(request.toMs > request.fromMs)) {
    throw new AppError("VALIDATION_FAILED", "The window is empty", {
      detail: "`to` must be after `from`.",
    });
  }
  const accountId = request.accountId ?? null;
  const state: RunState = {
    deps,
    accountId,
    seen: new Set(),
    report: {
      id: deps.ids.next("reconciliationRun"),
      trigger: request.trigger,
      fromMs: request.fromMs,
      toMs: request.toMs,
      accountId,
      startedAtMs: deps.clock.nowMs(),
      finishedAtMs: 0,
      checked: { paymentIntents: 0, attempts: 0, refunds: 0 },
      repairs: [],
      mismatches: [],
      skipped: [],
    },
  };
  const intents = (await listIntents(deps.stripe, request.fromMs, request.toMs)).filter(
    (intent) =>
      intent.metadata?.invoice_id !== undefined &&
      (accountId === null || intent.metadata?.account_id === accountId),
  );
  state.report.checked.paymentIntents = intents.length;
  // Oldest first, so an invoice's history is replayed in the order it happened.
  for (const intent of [...intents].reverse()) {
    await checkIntent(state, intent);
  }
  const { rows } = await deps.db.query<Parameters<typeof toAttempt>[0]>(
    `select ${ATTEMPT_COLUMNS} from payment_attempts
      where created_at >= $1 and created_at < $2 and ($3::text is null or account_id = $3)
      order by created_at, id`,
    [new Date(request.fromMs).toISOString(), new Date(request.toMs).toISOString(), accountId],
  );
  const attempts = rows.map(toAttempt);
  state.report.checked.attempts = attempts.length;
  for (const attempt of attempts) {
    if (state.seen.has(attempt.id)) {
      if (attempt.status === "succeeded") {
        await checkSettled(state, attempt);
      }
      continue;
    }
    await checkAttempt(state, attempt);
  }
  for (const refund of await listRefunds(deps.stripe, request.fromMs, request.toMs)) {
    await checkRefund(state, refund);
  }
  await checkRefundsKnownToStripe(state, request.fromMs, request.toMs);
  state.report.finishedAtMs = deps.clock.nowMs();
  await storeReport(deps.db, state.report);
  return state.report;
}

/** Our refund rows of the window must exist at Stripe. */
async function checkRefundsKnownToStripe(
  state: RunState,
  fromMs: number,
  toMs: number,
): Promise<void> {
  const { rows } = await state.deps.db.query<{
    id: string;
    invoice_id: string;
    attempt_id: string;
  }>(
    `select id, invoice_id, attempt_id from payment_refunds
      where stripe_created_at >= $1 and stripe_created_at < $2 and ($3::text is null or account_id = $3)`,
    [new Date(fromMs).toISOString(), new Date(toMs).toISOString(), state.accountId],
  );
  for (const row of rows) {
    try {
      await state.deps.stripe.refunds.retrieve(row.id);
    } catch (error) {
      if ((error as { statusCode?: unknown }).statusCode !== 404) {
        throw error;
      }
      mismatch(state, {
        kind: "refund_not_at_stripe",
        invoiceId: row.invoice_id,
        attemptId: row.attempt_id,
        stripeId: row.id,
        detail: "a recorded refund Stripe does not have",
      });
    }
  }
}

async function storeReport(db: Queryable, report: ReconciliationReport): Promise<void> {
  await db.query(
    `insert into reconciliation_runs (id, trigger, window_start, window_end, account_id, started_at,
                                      finished_at, mismatches, repairs, report)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [
      report.id,
      report.trigger,
      new Date(report.fromMs).toISOString(),
      new Date(report.toMs).toISOString(),
      report.accountId,
      new Date(report.startedAtMs).toISOString(),
      new Date(report.finishedAtMs).toISOString(),
      report.mismatches.length,
      report.repairs.length,
      JSON.stringify(report),
    ],
  );
}

/** A stored report by run id, or null. */
export async function reconciliationRun(
  db: Queryable,
  runId: string,
): Promise<ReconciliationReport | null> {
  const { rows } = await db.query<{ report: ReconciliationReport }>(
    "select report from reconciliation_runs where id = $1",
    [runId],
  );
  return rows[0]?.report ?? null;
}

/** The window the daily cron reconciles: the 24 hours before the start of today (UTC), plus an
 * hour of overlap with the previous window so an intent created at a boundary is never missed. */
export function dailyWindow(nowMs: number): { fromMs: number; toMs: number } {
  const dayMs = 86_400_000;
  const toMs = Math.floor(nowMs / dayMs) * dayMs;
  return { fromMs: toMs - dayMs - 3_600_000, toMs };
}
