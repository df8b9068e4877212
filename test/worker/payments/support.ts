/**
 * Shared set-up for the payment tests: an isolated Stripe sandbox account per test (its own
 * objects, clock, faults and webhook queue, signed with the Worker's webhook secret), a customer
 * with a card, an open invoice inserted straight into Postgres, and payment dependencies wired to
 * that account with a clock pinned to the sandbox's.
 */
import { env } from "cloudflare:workers";
import type { Database, Queryable } from "../../../lib/adapters/postgres.ts";
import { openStripe, type Stripe } from "../../../lib/adapters/stripe.ts";
import { FixedClock } from "../../../lib/clock/clock.ts";
import { configFor } from "../../../lib/env/config.ts";
import type { WorkSender } from "../../../lib/fraud/deps.ts";
import { createIdGenerator } from "../../../lib/ids/ids.ts";
import { createLogger, type Logger } from "../../../lib/log/logger.ts";
import type { PaymentDeps } from "../../../lib/payments/deps.ts";
import { qstashNotifier } from "../../../lib/payments/deps.ts";
import { StripeSandboxControl } from "../../../local-stack/stripe/sandbox-client.ts";
import { testDb } from "../support/catalogue.ts";
import { unique } from "../support/http.ts";

export const config = configFor(env);
const HOUR_MS = 3_600_000;

/** Client timeout for sandbox calls: the `timeout` fault holds a request until we give up. */
const TEST_STRIPE_TIMEOUT_MS = 1_500;

export interface Sandbox {
  control: StripeSandboxControl;
  stripe: Stripe;
  secretKey: string;
  /** Our clock, pinned to the sandbox account's clock at creation. */
  clock: FixedClock;
  /** Moves the sandbox clock and ours forward together. */
  advance(ms: number): Promise<void>;
}

/** A fresh sandbox account whose webhooks are held for pulling and signed with our secret. */
export async function sandbox(options: { frozen?: boolean } = {}): Promise<Sandbox> {
  const root = new StripeSandboxControl({
    url: config.stripe.apiBase as string,
    secretKey: config.stripe.secretKey,
  });
  const account = await root.createAccount({
    webhookMode: "pull",
    webhookSecret: config.stripe.webhookSecret,
  });
  const control = root.as(account.secretKey);
  const now = options.frozen ? await control.freezeClock(true) : await control.clock();
  const clock = new FixedClock(now.now * 1000);
  const stripe = openStripe(
    { secretKey: account.secretKey, apiBase: config.stripe.apiBase },
    { timeoutMs: TEST_STRIPE_TIMEOUT_MS },
  );
  return {
    control,
    stripe,
    secretKey: account.secretKey,
    clock,
    async advance(ms) {
      await control.advanceClock(Math.round(ms / 1000));
      clock.advance(ms);
    },
  };
}

/** A customer with `token`'s card as default payment method. */
export async function customerWithCard(stripe: Stripe, token = "tok_visa"): Promise<string> {
  const card = await stripe.paymentMethods.create({ type: "card", card: { token } });
  const customer = await stripe.customers.create({
    email: `${unique("payer")}@example.com`,
    payment_method: card.id,
    invoice_settings: { default_payment_method: card.id },
  });
  return customer.id;
}

/** The customer's default payment method id. */
export async function defaultCard(stripe: Stripe, customerId: string): Promise<string> {
  const customer = (await stripe.customers.retrieve(customerId)) as Stripe.Customer;
  return customer.invoice_settings.default_payment_method as string;
}

export interface SeededInvoice {
  accountId: string;
  invoiceId: string;
  customerId: string | null;
}

/**
 * An account (with the Stripe customer) and one open charge_automatically invoice, inserted as
 * lib/billing would leave them after finalization.
 */
export async function seedInvoice(options: {
  customerId: string | null;
  amountMinor: bigint;
  currency?: string;
  accountId?: string;
  notificationUrl?: string | null;
  finalizedAtMs: number;
}): Promise<SeededInvoice> {
  const db = testDb();
  const ids = createIdGenerator(() => options.finalizedAtMs);
  const accountId = options.accountId ?? unique("acct");
  const invoiceId = ids.next("invoice");
  const currency = options.currency ?? "USD";
  try {
    await db.query(
      `insert into accounts (id, name, currency, time_zone, billing_interval, collection_method,
                             stripe_customer_id, notification_url)
       values ($1, $1, $2, 'UTC', '{"unit":"month","count":1,"anchorDay":1}', 'charge_automatically',
               $3, $4)
       on conflict (id) do nothing`,
      [accountId, currency, options.customerId, options.notificationUrl ?? null],
    );
    const periodEnd = new Date(options.finalizedAtMs - HOUR_MS);
    // Invoices are unique per account and period start: a random start keeps seeds apart.
    const offsetMs = crypto.getRandomValues(new Uint32Array(1))[0] ?? 0;
    const periodStart = new Date(periodEnd.getTime() - 30 * 24 * HOUR_MS - offsetMs);
    await db.query(
      `insert into invoices (id, account_id, period_start, period_end, number, status, currency,
                             collection_method, subtotal_minor, total_minor, amount_due_minor,
                             finalized_at, due_at)
       values ($1, $2, $3, $4, $5, 'open', $6, 'charge_automatically', $7, $7, $7, $8, $8)`,
      [
        invoiceId,
        accountId,
        periodStart.toISOString(),
        periodEnd.toISOString(),
        `ML-${invoiceId.slice(4, 16).toUpperCase()}`,
        currency,
        options.amountMinor.toString(),
        new Date(options.finalizedAtMs).toISOString(),
      ],
    );
  } finally {
    await db.end();
  }
  return { accountId, invoiceId, customerId: options.customerId };
}

/** A WorkSender that keeps what it was given (fraud signals, follow-up collections). */
export function capturingQueue(): WorkSender & { sent: unknown[] } {
  const sent: unknown[] = [];
  return {
    sent,
    async send(body) {
      sent.push(body);
    },
  };
}

/** Log lines written by a test logger, parsed. */
export function capturingLogger(): Logger & { lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    level: "debug",
    sink: (line) => lines.push(JSON.parse(line) as Record<string, unknown>),
  });
  return Object.assign(logger, { lines });
}

/** Payment dependencies on the sandbox account, with our pinned clock. */
export function depsFor(
  box: Sandbox,
  options: { db?: Database; work?: WorkSender | null; log?: Logger } = {},
): PaymentDeps & { db: Database } {
  return {
    db: options.db ?? testDb(),
    stripe: box.stripe,
    clock: box.clock,
    ids: createIdGenerator(() => box.clock.nowMs()),
    log: options.log ?? createLogger({ level: "error" }),
    notifier: qstashNotifier(config),
    work: options.work === undefined ? capturingQueue() : options.work,
  };
}

/**
 * A Database whose transactions throw once on the first statement matching `match` — our own
 * Postgres write failing at that exact point, through the real code path (no module mocking).
 */
export function failingOnce(
  inner: Database,
  match: (sql: string, params: unknown[]) => boolean,
): Database & { tripped: () => boolean } {
  let tripped = false;
  const guard = (target: Queryable): Queryable => ({
    query(sql, params) {
      if (!tripped && match(sql, params ?? [])) {
        tripped = true;
        return Promise.reject(new Error("injected: Postgres write failed after the charge"));
      }
      return target.query(sql, params);
    },
  });
  return {
    query: (sql, params) => guard(inner).query(sql, params),
    transaction: (work) => inner.transaction((tx) => work(guard(tx))),
    end: () => inner.end(),
    tripped: () => tripped,
  };
}

/** Every successful charge of the customer at Stripe. */
export async function successfulCharges(stripe: Stripe, customerId: string): Promise<string[]> {
  const charges = await stripe.charges.list({ customer: customerId, limit: 100 });
  return charges.data.filter((charge) => charge.status === "succeeded").map((charge) => charge.id);
}

/** The invoice's status and paid amount as stored. */
export async function invoiceState(
  db: Queryable,
  invoiceId: string,
): Promise<{ status: string; amountPaidMinor: string; amountRefundedMinor: string }> {
  const { rows } = await db.query<{
    status: string;
    amount_paid_minor: string;
    amount_refunded_minor: string;
  }>(
    `select status, amount_paid_minor::text as amount_paid_minor,
            amount_refunded_minor::text as amount_refunded_minor from invoices where id = $1`,
    [invoiceId],
  );
  const row = rows[0];
  if (!row) {
    throw new Error(`no invoice ${invoiceId}`);
  }
  return {
    status: row.status,
    amountPaidMinor: row.amount_paid_minor,
    amountRefundedMinor: row.amount_refunded_minor,
  };
}

/** The invoice's attempts as (attempt number, status, key) triples, oldest first. */
export async function attemptSummary(
  db: Queryable,
  invoiceId: string,
): Promise<{ no: number; status: string; key: string; origin: string }[]> {
  const { rows } = await db.query<{
    attempt_no: number;
    status: string;
    idempotency_key: string;
    origin: string;
  }>(
    `select attempt_no, status, idempotency_key, origin from payment_attempts
      where invoice_id = $1 order by attempt_no`,
    [invoiceId],
  );
  return rows.map((row) => ({
    no: row.attempt_no,
    status: row.status,
    key: row.idempotency_key,
    origin: row.origin,
  }));
}

/** The account's audit actions, oldest first. */
export async function auditActions(db: Queryable, accountId: string): Promise<string[]> {
  const { rows } = await db.query<{ action: string }>(
    "select action from audit_log where account_id = $1 order by seq",
    [accountId],
  );
  return rows.map((row) => row.action);
}
