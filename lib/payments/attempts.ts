import type { Queryable } from "../adapters/postgres.ts";
import { appendAudit } from "../audit/audit-log.ts";
import {
  type AttemptStatus,
  DEAD_STATUSES,
  movesForward,
  type ObservedState,
} from "./attempt-state.ts";
import type { TxContext } from "./deps.ts";
import { type DunningStep, recordPaymentFailure } from "./dunning.ts";
import { type SettlementOutcome, settleInvoicePaid } from "./settlement.ts";

/** One payment attempt as stored (see migrations/postgres/0007_payments.sql). */
export interface Attempt {
  id: string;
  invoiceId: string;
  accountId: string;
  attemptNo: number;
  idempotencyKey: string;
  status: AttemptStatus;
  origin: "charge" | "adopted";
  amountMinor: bigint;
  /** Upper-case ISO 4217. */
  currency: string;
  stripeCustomerId: string | null;
  stripePaymentMethodId: string | null;
  stripePaymentIntentId: string | null;
  stripeChargeId: string | null;
  amountRefundedMinor: bigint;
  failureCode: string | null;
  failureMessage: string | null;
  keyFirstUsedAtMs: number | null;
  providerCalls: number;
  lastError: string | null;
  stripeStateAtMs: number | null;
  createdAtMs: number;
  updatedAtMs: number;
}

interface AttemptRow {
  id: string;
  invoice_id: string;
  account_id: string;
  attempt_no: number;
  idempotency_key: string;
  status: AttemptStatus;
  origin: "charge" | "adopted";
  amount_minor: string;
  currency: string;
  stripe_customer_id: string | null;
  stripe_payment_method_id: string | null;
  stripe_payment_intent_id: string | null;
  stripe_charge_id: string | null;
  amount_refunded_minor: string;
  failure_code: string | null;
  failure_message: string | null;
  key_first_used_at: Date | null;
  provider_calls: number;
  last_error: string | null;
  stripe_state_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

/** Column list for reading attempts; bigints as text so they never pass through a double. */
export const ATTEMPT_COLUMNS = `id, invoice_id, account_id, attempt_no, idempotency_key, status,
  origin, amount_minor::text as amount_minor, currency, stripe_customer_id,
  stripe_payment_method_id, stripe_payment_intent_id, stripe_charge_id,
  amount_refunded_minor::text as amount_refunded_minor, failure_code, failure_message,
  key_first_used_at, provider_calls, last_error, stripe_state_at, created_at, updated_at`;

const ms = (date: Date | null) => (date ? date.getTime() : null);
const iso = (value: number | null) => (value === null ? null : new Date(value).toISOString());

/** Maps a stored row (read with ATTEMPT_COLUMNS) to an Attempt. */
export function toAttempt(row: AttemptRow): Attempt {
  return {
    id: row.id,
    invoiceId: row.invoice_id,
    accountId: row.account_id,
    attemptNo: row.attempt_no,
    idempotencyKey: row.idempotency_key,
    status: row.status,
    origin: row.origin,
    amountMinor: BigInt(row.amount_minor),
    currency: row.currency.trim(),
    stripeCustomerId: row.stripe_customer_id,
    stripePaymentMethodId: row.stripe_payment_method_id,
    stripePaymentIntentId: row.stripe_payment_intent_id,
    stripeChargeId: row.stripe_charge_id,
    amountRefundedMinor: BigInt(row.amount_refunded_minor),
    failureCode: row.failure_code,
    failureMessage: row.failure_message,
    keyFirstUsedAtMs: ms(row.key_first_used_at),
    providerCalls: row.provider_calls,
    lastError: row.last_error,
    stripeStateAtMs: ms(row.stripe_state_at),
    createdAtMs: row.created_at.getTime(),
    updatedAtMs: row.updated_at.getTime(),
  };
}

/** The invoice's attempts, oldest first. */
export async function attemptsOf(db: Queryable, invoiceId: string): Promise<Attempt[]> {
  const { rows } = await db.query<AttemptRow>(
    `select ${ATTEMPT_COLUMNS} from payment_attempts where invoice_id = $1 order by attempt_no`,
    [invoiceId],
  );
  return rows.map(toAttempt);
}

/** The attempt that made (or adopted) PaymentIntent `paymentIntentId`, if any. */
export async function attemptOfIntent(
  db: Queryable,
  paymentIntentId: string,
): Promise<Attempt | null> {
  const { rows } = await db.query<AttemptRow>(
    `select ${ATTEMPT_COLUMNS} from payment_attempts where stripe_payment_intent_id = $1`,
    [paymentIntentId],
  );
  return rows[0] ? toAttempt(rows[0]) : null;
}

/** The attempt with this id, if any. */
export async function attemptById(db: Queryable, attemptId: string): Promise<Attempt | null> {
  const { rows } = await db.query<AttemptRow>(
    `select ${ATTEMPT_COLUMNS} from payment_attempts where id = $1`,
    [attemptId],
  );
  return rows[0] ? toAttempt(rows[0]) : null;
}

/** The attempt whose charge is `chargeId`, if any. */
export async function attemptOfCharge(db: Queryable, chargeId: string): Promise<Attempt | null> {
  const { rows } = await db.query<AttemptRow>(
    `select ${ATTEMPT_COLUMNS} from payment_attempts where stripe_charge_id = $1`,
    [chargeId],
  );
  return rows[0] ? toAttempt(rows[0]) : null;
}

/** A new attempt's facts, as inserted. */
export interface NewAttempt {
  id: string;
  invoiceId: string;
  accountId: string;
  attemptNo: number;
  idempotencyKey: string;
  origin: "charge" | "adopted";
  status: AttemptStatus;
  amountMinor: bigint;
  currency: string;
  stripeCustomerId: string | null;
  stripePaymentMethodId: string | null;
  stripePaymentIntentId: string | null;
  failureCode?: string | null;
  failureMessage?: string | null;
  /** Set for attempts about to be sent: the key's first use. */
  keyFirstUsedAtMs: number | null;
}

/**
 * Inserts an attempt and its `payment.attempted` (or `payment.adopted`) audit record in the
 * caller's transaction. Throws the unique violation when the attempt number or key is taken
 * (a concurrent writer got there first).
 */
export async function insertAttempt(
  tx: Queryable,
  ctx: TxContext,
  attempt: NewAttempt,
  reason: string,
): Promise<void> {
  const nowIso = new Date(ctx.nowMs).toISOString();
  await tx.query(
    `insert into payment_attempts (id, invoice_id, account_id, attempt_no, idempotency_key, status,
       origin, amount_minor, currency, stripe_customer_id, stripe_payment_method_id,
       stripe_payment_intent_id, failure_code, failure_message, key_first_used_at, created_at,
       updated_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16)`,
    [
      attempt.id,
      attempt.invoiceId,
      attempt.accountId,
      attempt.attemptNo,
      attempt.idempotencyKey,
      attempt.status,
      attempt.origin,
      attempt.amountMinor.toString(),
      attempt.currency,
      attempt.stripeCustomerId,
      attempt.stripePaymentMethodId,
      attempt.stripePaymentIntentId,
      attempt.failureCode ?? null,
      attempt.failureMessage ?? null,
      iso(attempt.keyFirstUsedAtMs),
      nowIso,
    ],
  );
  await appendAudit(tx, ctx.ids, {
    accountId: attempt.accountId,
    actor: ctx.actor,
    action: attempt.origin === "adopted" ? "payment.adopted" : "payment.attempted",
    subjectType: "payment_attempt",
    subjectId: attempt.id,
    reason,
    before: null,
    after: {
      invoiceId: attempt.invoiceId,
      attemptNo: attempt.attemptNo,
      status: attempt.status,
      idempotencyKey: attempt.idempotencyKey,
      paymentIntentId: attempt.stripePaymentIntentId,
    },
    amountMinor: attempt.amountMinor,
    currency: attempt.currency,
    occurredAtMs: ctx.nowMs,
  });
}

/** A state reported for an attempt, with whatever Stripe said along with it. */
export interface AttemptObservation extends ObservedState {
  paymentIntentId?: string | null;
  chargeId?: string | null;
  failureCode?: string | null;
  failureMessage?: string | null;
  /** For `unknown`: what went wrong talking to Stripe. */
  error?: string | null;
}

export interface ApplyResult {
  attempt: Attempt;
  changed: boolean;
  from: AttemptStatus;
  settlement: SettlementOutcome | null;
  dunning: DunningStep | null;
}

const AUDIT_ACTION: Record<AttemptStatus, string> = {
  created: "payment.attempted",
  unknown: "payment.outcome_unknown",
  requires_confirmation: "payment.requires_confirmation",
  processing: "payment.processing",
  failed: "payment.failed",
  canceled: "payment.canceled",
  succeeded: "payment.succeeded",
};

/**
 * Applies an observed state to an attempt inside the caller's transaction, forward only (see
 * attempt-state.ts), with its audit record and its consequences: a success pays the invoice, a
 * failure feeds dunning. A backward or repeated observation changes nothing except filling ids
 * the row did not have yet. Throws NOT_FOUND-like errors only for a missing attempt id.
 */
export async function applyAttemptState(
  tx: Queryable,
  ctx: TxContext,
  attemptId: string,
  observed: AttemptObservation,
  reason: string,
): Promise<ApplyResult> {
  const { rows } = await tx.query<AttemptRow>(
    `select ${ATTEMPT_COLUMNS} from payment_attempts where id = $1 for update`,
    [attemptId],
  );
  if (!rows[0]) {
    throw new Error(`payment attempt ${attemptId} does not exist`);
  }
  const current = toAttempt(rows[0]);
  const nowIso = new Date(ctx.nowMs).toISOString();
  const intentId = observed.paymentIntentId ?? current.stripePaymentIntentId;
  const chargeId = observed.chargeId ?? current.stripeChargeId;
  const forward = movesForward(
    { status: current.status, stripeAtMs: current.stripeStateAtMs },
    observed,
  );
  if (!forward || observed.status === current.status) {
    // Not a state change: a stale report changes nothing; a newer report of the same state
    // only refreshes what Stripe said about it (ids, failure details, its time), unaudited.
    const refresh = forward;
    const kept: Attempt = {
      ...current,
      stripePaymentIntentId: intentId,
      stripeChargeId: chargeId,
      failureCode: refresh ? (observed.failureCode ?? current.failureCode) : current.failureCode,
      failureMessage: refresh
        ? (observed.failureMessage ?? current.failureMessage)
        : current.failureMessage,
      stripeStateAtMs: refresh ? observed.stripeAtMs : current.stripeStateAtMs,
    };
    if (
      refresh ||
      intentId !== current.stripePaymentIntentId ||
      chargeId !== current.stripeChargeId
    ) {
      await tx.query(
        `update payment_attempts set stripe_payment_intent_id = $2, stripe_charge_id = $3,
                failure_code = $4, failure_message = $5, stripe_state_at = $6, updated_at = $7
          where id = $1`,
        [
          attemptId,
          kept.stripePaymentIntentId,
          kept.stripeChargeId,
          kept.failureCode,
          kept.failureMessage,
          iso(kept.stripeStateAtMs),
          nowIso,
        ],
      );
    }
    return {
      attempt: kept,
      changed: false,
      from: current.status,
      settlement: null,
      dunning: null,
    };
  }
  const failing = observed.status === "failed" || observed.status === "canceled";
  const next: Attempt = {
    ...current,
    status: observed.status,
    stripePaymentIntentId: intentId,
    stripeChargeId: chargeId,
    failureCode: failing ? (observed.failureCode ?? current.failureCode) : null,
    failureMessage: failing ? (observed.failureMessage ?? current.failureMessage) : null,
    lastError: observed.error ?? current.lastError,
    stripeStateAtMs: observed.stripeAtMs ?? current.stripeStateAtMs,
    updatedAtMs: ctx.nowMs,
  };
  // payment_attempt.apply_state: the write that records what Stripe did (tests fail it on purpose).
  await tx.query(
    `/* payment_attempt.apply_state */ update payment_attempts
        set status = $2, stripe_payment_intent_id = $3, stripe_charge_id = $4, failure_code = $5,
            failure_message = $6, last_error = $7, stripe_state_at = $8, updated_at = $9
      where id = $1`,
    [
      attemptId,
      next.status,
      next.stripePaymentIntentId,
      next.stripeChargeId,
      next.failureCode,
      next.failureMessage,
      next.lastError,
      iso(next.stripeStateAtMs),
      nowIso,
    ],
  );
  await appendAudit(tx, ctx.ids, {
    accountId: current.accountId,
    actor: ctx.actor,
    action: AUDIT_ACTION[observed.status],
    subjectType: "payment_attempt",
    subjectId: attemptId,
    reason,
    before: { status: current.status },
    after: {
      status: next.status,
      invoiceId: current.invoiceId,
      paymentIntentId: next.stripePaymentIntentId,
      chargeId: next.stripeChargeId,
      failureCode: next.failureCode,
    },
    amountMinor: current.amountMinor,
    currency: current.currency,
    occurredAtMs: ctx.nowMs,
  });
  let settlement: SettlementOutcome | null = null;
  let dunning: DunningStep | null = null;
  if (next.status === "succeeded") {
    settlement = await settleInvoicePaid(tx, ctx, {
      invoiceId: current.invoiceId,
      accountId: current.accountId,
      attemptId,
      amountMinor: current.amountMinor,
    });
  } else if (next.status === "failed" && !DEAD_STATUSES.includes(current.status)) {
    dunning = await recordPaymentFailure(tx, ctx, {
      invoiceId: current.invoiceId,
      accountId: current.accountId,
      attemptId,
      failureCode: next.failureCode,
    });
  }
  return { attempt: next, changed: true, from: current.status, settlement, dunning };
}

/** Notes a call to Stripe for the attempt (count and last error); no state change. */
export async function noteProviderCall(
  db: Queryable,
  attemptId: string,
  error: string | null,
  nowMs: number,
): Promise<void> {
  await db.query(
    `update payment_attempts set provider_calls = provider_calls + 1,
            last_error = coalesce($2, last_error), updated_at = $3
      where id = $1`,
    [attemptId, error, new Date(nowMs).toISOString()],
  );
}
