import type { Queryable } from "../../adapters/postgres.ts";
import type { AttemptStatus } from "../../payments/attempt-state.ts";

// Reads of payment attempts, disputes and refunds (migration 0007). Read-only: every change to
// them belongs to lib/payments. Amounts are integer minor units as decimal text.

const iso = (date: Date | null) => (date === null ? null : date.toISOString());

/** One try at collecting an invoice (one PaymentIntent, one idempotency key). */
export interface PaymentRecord {
  id: string;
  invoiceId: string;
  accountId: string;
  attemptNo: number;
  status: AttemptStatus;
  origin: string;
  amountMinor: string;
  amountRefundedMinor: string;
  currency: string;
  stripePaymentIntentId: string | null;
  stripeChargeId: string | null;
  failureCode: string | null;
  failureMessage: string | null;
  createdAt: string;
  updatedAt: string;
}

interface PaymentRow {
  id: string;
  invoice_id: string;
  account_id: string;
  attempt_no: number;
  status: AttemptStatus;
  origin: string;
  amount_minor: string;
  amount_refunded_minor: string;
  currency: string;
  stripe_payment_intent_id: string | null;
  stripe_charge_id: string | null;
  failure_code: string | null;
  failure_message: string | null;
  created_at: Date;
  updated_at: Date;
}

const PAYMENT_COLUMNS = `id, invoice_id, account_id, attempt_no, status, origin,
  amount_minor::text as amount_minor, amount_refunded_minor::text as amount_refunded_minor,
  currency, stripe_payment_intent_id, stripe_charge_id, failure_code, failure_message,
  created_at, updated_at`;

function toPayment(row: PaymentRow): PaymentRecord {
  return {
    id: row.id,
    invoiceId: row.invoice_id,
    accountId: row.account_id,
    attemptNo: row.attempt_no,
    status: row.status,
    origin: row.origin,
    amountMinor: row.amount_minor,
    amountRefundedMinor: row.amount_refunded_minor,
    currency: row.currency.trim(),
    stripePaymentIntentId: row.stripe_payment_intent_id,
    stripeChargeId: row.stripe_charge_id,
    failureCode: row.failure_code,
    failureMessage: row.failure_message,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

/** Payments newest first (ids sort by creation), after id `afterId`, optionally filtered. */
export async function listPayments(
  db: Queryable,
  filter: { status: AttemptStatus | null; accountId: string | null },
  afterId: string | null,
  limit: number,
): Promise<PaymentRecord[]> {
  const { rows } = await db.query<PaymentRow>(
    `select ${PAYMENT_COLUMNS} from payment_attempts
      where ($1::text is null or status = $1) and ($2::text is null or account_id = $2)
        and ($3::text is null or id < $3)
      order by id desc limit $4`,
    [filter.status, filter.accountId, afterId, limit],
  );
  return rows.map(toPayment);
}

/** The attempts of each invoice in attempt order, at most `limit` per invoice (one query). */
export async function paymentsOfInvoices(
  db: Queryable,
  invoiceIds: readonly string[],
  afterAttemptNo: number | null,
  limit: number,
): Promise<PaymentRecord[]> {
  const { rows } = await db.query<PaymentRow>(
    `select ${PAYMENT_COLUMNS} from (
       select *, row_number() over (partition by invoice_id order by attempt_no) as rn
         from payment_attempts
        where invoice_id = any($1::text[]) and ($2::int is null or attempt_no > $2)
     ) ranked where rn <= $3 order by invoice_id, attempt_no`,
    [invoiceIds, afterAttemptNo, limit],
  );
  return rows.map(toPayment);
}

/** Count and sum of attempts per status and currency: "payments by state". */
export interface PaymentStateTotal {
  status: AttemptStatus;
  currency: string;
  count: number;
  amountMinor: string;
}

/** Payments per status and currency since `sinceMs` (by creation). Throws the database error. */
export async function paymentTotalsByState(
  db: Queryable,
  sinceMs: number,
): Promise<PaymentStateTotal[]> {
  const { rows } = await db.query<{
    status: AttemptStatus;
    currency: string;
    n: number;
    sum: string;
  }>(
    `select status, currency, count(*)::int as n, sum(amount_minor)::text as sum
       from payment_attempts where created_at >= $1
      group by status, currency order by status, currency`,
    [new Date(sinceMs).toISOString()],
  );
  return rows.map((row) => ({
    status: row.status,
    currency: row.currency.trim(),
    count: row.n,
    amountMinor: row.sum,
  }));
}

/** A dispute (chargeback) of an invoice's charge. */
export interface DisputeRecord {
  id: string;
  invoiceId: string;
  attemptId: string;
  accountId: string;
  amountMinor: string;
  currency: string;
  reason: string;
  status: string;
  openedAt: string;
  closedAt: string | null;
  updatedAt: string;
}

interface DisputeRow {
  id: string;
  invoice_id: string;
  attempt_id: string;
  account_id: string;
  amount_minor: string;
  currency: string;
  reason: string;
  status: string;
  opened_at: Date;
  closed_at: Date | null;
  updated_at: Date;
}

const DISPUTE_COLUMNS = `id, invoice_id, attempt_id, account_id, amount_minor::text as amount_minor,
  currency, reason, status, opened_at, closed_at, updated_at`;

function toDispute(row: DisputeRow): DisputeRecord {
  return {
    id: row.id,
    invoiceId: row.invoice_id,
    attemptId: row.attempt_id,
    accountId: row.account_id,
    amountMinor: row.amount_minor,
    currency: row.currency.trim(),
    reason: row.reason,
    status: row.status,
    openedAt: row.opened_at.toISOString(),
    closedAt: iso(row.closed_at),
    updatedAt: row.updated_at.toISOString(),
  };
}

/**
 * Disputes newest first by opening time (then id), after the (opened at, id) cursor, optionally
 * only open ones (not closed). Throws the database error.
 */
export async function listDisputes(
  db: Queryable,
  openOnly: boolean,
  after: readonly [string, string] | null,
  limit: number,
): Promise<DisputeRecord[]> {
  const { rows } = await db.query<DisputeRow>(
    `select ${DISPUTE_COLUMNS} from payment_disputes
      where (not $1::boolean or closed_at is null)
        and ($2::timestamptz is null or (opened_at, id) < ($2::timestamptz, $3::text))
      order by opened_at desc, id desc limit $4`,
    [openOnly, after?.[0] ?? null, after?.[1] ?? null, limit],
  );
  return rows.map(toDispute);
}

/** Every dispute of these payment attempts (a charge is disputed rarely, so not paged). */
export async function disputesOfPayments(
  db: Queryable,
  attemptIds: readonly string[],
): Promise<DisputeRecord[]> {
  const { rows } = await db.query<DisputeRow>(
    `select ${DISPUTE_COLUMNS} from payment_disputes where attempt_id = any($1::text[])
      order by attempt_id, opened_at, id`,
    [attemptIds],
  );
  return rows.map(toDispute);
}
