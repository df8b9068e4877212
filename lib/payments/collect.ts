import type { Queryable } from "../adapters/postgres.ts";
import type { Stripe } from "../adapters/stripe.ts";
import { AppError } from "../errors/index.ts";
import { type AdoptOutcome, adoptIntent } from "./adopt.ts";
import { IN_FLIGHT_STATUSES } from "./attempt-state.ts";
import {
  type Attempt,
  applyAttemptState,
  attemptById,
  attemptsOf,
  insertAttempt,
  noteProviderCall,
} from "./attempts.ts";
import type { PaymentDeps, TxContext } from "./deps.ts";
import { dunningOf, resolveDunning } from "./dunning.ts";
import { tryLockInvoice } from "./invoice-lock.ts";
import { attemptKey, keyStillReusable } from "./keys.ts";
import { publishPendingNotifications } from "./notifications.ts";
import { settleInvoicePaid } from "./settlement.ts";
import { classifyStripeError } from "./stripe-errors.ts";
import { idOf, intentsOfInvoice, retrieveIntent } from "./stripe-intents.ts";

/**
 * Collecting an invoice: at most one successful charge, whatever fails and however often the
 * job runs. See lib/payments/README.md for the full argument; in short:
 * - one attempt = one PaymentIntent = one idempotency key `<invoice>:att_<n>`, recorded in
 *   Postgres (and committed) before the key is ever sent;
 * - an attempt whose answer was lost is resent with the same key while Stripe still remembers
 *   it (KEY_REUSE_WINDOW_MS), so Stripe replays instead of charging again;
 * - a new key is used only after Stripe has been searched for a PaymentIntent of the invoice
 *   that succeeded or is processing, which is adopted instead;
 * - one collection per invoice at a time, by a Postgres advisory lock.
 */

/**
 * - `initial`: the first collection after finalization (`payment.collect`): makes the first
 *   attempt or finishes one in flight; never retries a failed payment.
 * - `dunning`: also makes a new attempt after a failure once the dunning schedule says so.
 * - `manual`: an admin's "retry now": a new attempt after a failure at once, also for an
 *   uncollectible invoice.
 */
export type CollectMode = "initial" | "dunning" | "manual";

export type CollectOutcome =
  | { status: "succeeded"; attemptId: string; paymentIntentId: string | null; adopted: boolean }
  | { status: "processing"; attemptId: string; paymentIntentId: string | null }
  | {
      status: "failed";
      attemptId: string;
      failureCode: string | null;
      nextRetryAtMs: number | null;
    }
  /** The answer is unknown (Stripe unavailable, timed out, dropped): run again, same key. */
  | { status: "pending"; attemptId: string; detail: string }
  /** Another collection of this invoice is running: run again later. */
  | { status: "busy" }
  | { status: "already_paid"; attemptId: string | null }
  | { status: "not_collectible"; reason: string }
  /** The last payment failed and dunning has not scheduled the next one yet. */
  | { status: "awaiting_retry"; attemptId: string; nextRetryAtMs: number | null };

/** Outcomes after which the job should run again (with backoff). */
export function shouldRetryCollection(outcome: CollectOutcome): boolean {
  return outcome.status === "pending" || outcome.status === "busy";
}

interface CollectableInvoice {
  id: string;
  accountId: string;
  number: string | null;
  status: string;
  currency: string;
  collectionMethod: string;
  amountDueMinor: bigint;
  amountPaidMinor: bigint;
  stripeCustomerId: string | null;
}

async function loadInvoice(db: Queryable, invoiceId: string): Promise<CollectableInvoice | null> {
  const { rows } = await db.query<{
    id: string;
    account_id: string;
    number: string | null;
    status: string;
    currency: string;
    collection_method: string;
    amount_due_minor: string;
    amount_paid_minor: string;
    stripe_customer_id: string | null;
  }>(
    `select i.id, i.account_id, i.number, i.status, i.currency, i.collection_method,
            i.amount_due_minor::text as amount_due_minor,
            i.amount_paid_minor::text as amount_paid_minor, a.stripe_customer_id
       from invoices i join accounts a on a.id = i.account_id
      where i.id = $1`,
    [invoiceId],
  );
  const row = rows[0];
  if (!row) {
    return null;
  }
  return {
    id: row.id,
    accountId: row.account_id,
    number: row.number,
    status: row.status,
    currency: row.currency.trim(),
    collectionMethod: row.collection_method,
    amountDueMinor: BigInt(row.amount_due_minor),
    amountPaidMinor: BigInt(row.amount_paid_minor),
    stripeCustomerId: row.stripe_customer_id,
  };
}

/** Converts minor units to the number the SDK sends; Stripe's amounts are far below 2^53. */
function sdkAmount(amountMinor: bigint): number {
  const amount = Number(amountMinor);
  if (!Number.isSafeInteger(amount)) {
    throw new AppError("INTERNAL", `Amount ${amountMinor} cannot be sent to Stripe`);
  }
  return amount;
}

/**
 * The PaymentIntent request of an attempt, built only from the attempt row and the invoice's
 * immutable fields, so every resend carries identical parameters (Stripe rejects a key reused
 * with other parameters).
 */
export function intentParams(
  invoice: { id: string; number: string | null },
  attempt: Attempt,
): Stripe.PaymentIntentCreateParams {
  return {
    amount: sdkAmount(attempt.amountMinor),
    currency: attempt.currency.toLowerCase(),
    customer: attempt.stripeCustomerId ?? undefined,
    payment_method: attempt.stripePaymentMethodId ?? undefined,
    confirm: true,
    off_session: true,
    description: `meterline invoice ${invoice.number ?? invoice.id}`,
    metadata: {
      invoice_id: invoice.id,
      account_id: attempt.accountId,
      attempt_id: attempt.id,
      attempt_no: String(attempt.attemptNo),
    },
  };
}

/**
 * How long after a key's first use meterline waits before giving up on a key that can no longer
 * be answered (a saved 5xx, a parameter conflict): longer than Stripe's search index lag (up to a
 * minute), so the search that follows sees any intent the key's request did create.
 */
export const UNUSABLE_KEY_SETTLE_MS = 10 * 60_000;

class Collection {
  readonly #deps: PaymentDeps;
  readonly #invoiceId: string;
  readonly #mode: CollectMode;
  readonly #actor: string;
  /** The invoice's account, once loaded. */
  accountId: string | null = null;

  constructor(deps: PaymentDeps, invoiceId: string, mode: CollectMode, actor: string) {
    this.#deps = deps;
    this.#invoiceId = invoiceId;
    this.#mode = mode;
    this.#actor = actor;
  }

  #ctx(): TxContext {
    return {
      ids: this.#deps.ids,
      nowMs: this.#deps.clock.nowMs(),
      actor: this.#actor,
      log: this.#deps.log,
    };
  }

  #tx<T>(work: (tx: Queryable, ctx: TxContext) => Promise<T>): Promise<T> {
    return this.#deps.db.transaction((tx) => work(tx, this.#ctx()));
  }

  async run(): Promise<CollectOutcome> {
    const db = this.#deps.db;
    const invoice = await loadInvoice(db, this.#invoiceId);
    if (!invoice) {
      throw new AppError("NOT_FOUND", `No invoice ${this.#invoiceId}`, {
        detail: "Check the invoice id.",
      });
    }
    this.accountId = invoice.accountId;
    const attempts = await attemptsOf(db, invoice.id);
    const succeeded = attempts.find((attempt) => attempt.status === "succeeded");
    if (invoice.status === "paid") {
      return { status: "already_paid", attemptId: succeeded?.id ?? null };
    }
    if (invoice.status === "draft" || invoice.status === "void") {
      await this.#tx((tx, ctx) => resolveDunning(tx, invoice.id, ctx.nowMs));
      return { status: "not_collectible", reason: `the invoice is ${invoice.status}` };
    }
    if (invoice.collectionMethod !== "charge_automatically") {
      return { status: "not_collectible", reason: "the invoice is paid by bank transfer" };
    }
    if (invoice.status === "uncollectible" && this.#mode !== "manual") {
      return { status: "not_collectible", reason: "dunning gave up on the invoice" };
    }
    if (succeeded) {
      // The charge is recorded but the invoice is not paid yet: finish the settlement.
      await this.#tx((tx, ctx) =>
        settleInvoicePaid(tx, ctx, {
          invoiceId: invoice.id,
          accountId: invoice.accountId,
          attemptId: succeeded.id,
          amountMinor: succeeded.amountMinor,
        }),
      );
      return { status: "already_paid", attemptId: succeeded.id };
    }
    if (invoice.amountDueMinor - invoice.amountPaidMinor <= 0n) {
      return { status: "not_collectible", reason: "nothing is due" };
    }
    const latest = attempts.at(-1);
    if (latest) {
      if (
        latest.stripePaymentIntentId &&
        ["processing", ...IN_FLIGHT_STATUSES].includes(latest.status)
      ) {
        return this.#refresh(invoice, latest);
      }
      if (IN_FLIGHT_STATUSES.includes(latest.status)) {
        if (keyStillReusable(latest.keyFirstUsedAtMs, this.#deps.clock.nowMs())) {
          return this.#send(invoice, latest);
        }
        return this.#resolveExpired(invoice, latest);
      }
      if (latest.status === "failed") {
        const waiting = await this.#waitingForRetry(latest);
        if (waiting) {
          return waiting;
        }
      }
    }
    return this.#newAttempt(invoice, null);
  }

  /** After a failure: null when a new attempt may be made now, else why not. */
  async #waitingForRetry(latest: Attempt): Promise<CollectOutcome | null> {
    if (this.#mode === "manual") {
      return null;
    }
    const dunning = await dunningOf(this.#deps.db, this.#invoiceId);
    const nextRetryAtMs = dunning?.state === "active" ? dunning.nextRetryAtMs : null;
    if (
      this.#mode === "dunning" &&
      nextRetryAtMs !== null &&
      nextRetryAtMs <= this.#deps.clock.nowMs()
    ) {
      return null;
    }
    return { status: "awaiting_retry", attemptId: latest.id, nextRetryAtMs };
  }

  /** The attempt knows its PaymentIntent: read it back and apply what Stripe says. */
  async #refresh(invoice: CollectableInvoice, latest: Attempt): Promise<CollectOutcome> {
    let intent: Stripe.PaymentIntent | null;
    try {
      intent = await retrieveIntent(this.#deps.stripe, latest.stripePaymentIntentId as string);
    } catch (error) {
      return {
        status: "pending",
        attemptId: latest.id,
        detail: classifyStripeError(error).message,
      };
    }
    if (intent === null) {
      await this.#tx((tx, ctx) =>
        applyAttemptState(
          tx,
          ctx,
          latest.id,
          {
            status: "canceled",
            stripeAtMs: null,
            failureCode: "not_at_stripe",
            failureMessage: `Stripe has no PaymentIntent ${latest.stripePaymentIntentId}`,
          },
          "Stripe answered 404 for the attempt's PaymentIntent",
        ),
      );
      return this.#newAttempt(invoice, null);
    }
    const found = intent;
    const adopted = await this.#tx((tx, ctx) =>
      adoptIntent(tx, ctx, found, null, "read back from Stripe"),
    );
    return this.#outcomeOfAdopt(adopted);
  }

  /**
   * The attempt's answer was lost and its key is about to be forgotten by Stripe: resending it
   * could charge again. Ask Stripe what exists for the invoice instead.
   */
  async #resolveExpired(invoice: CollectableInvoice, latest: Attempt): Promise<CollectOutcome> {
    let intents: Stripe.PaymentIntent[];
    try {
      intents = await intentsOfInvoice(this.#deps.stripe, invoice.id);
    } catch (error) {
      return {
        status: "pending",
        attemptId: latest.id,
        detail: classifyStripeError(error).message,
      };
    }
    const live = this.#liveIntent(intents);
    const own = intents.find((intent) => intent.metadata?.attempt_id === latest.id);
    const found = live ?? own;
    if (found) {
      const adopted = await this.#tx((tx, ctx) =>
        adoptIntent(tx, ctx, found, null, "found by searching Stripe after the key expired"),
      );
      return this.#outcomeOfAdopt(adopted);
    }
    await this.#tx((tx, ctx) =>
      applyAttemptState(
        tx,
        ctx,
        latest.id,
        {
          status: "canceled",
          stripeAtMs: null,
          failureCode: "not_at_stripe",
          failureMessage: "Stripe has no PaymentIntent for this attempt; its key has expired",
        },
        "Abandoned: no answer was ever received and Stripe has no PaymentIntent for it",
      ),
    );
    return this.#newAttempt(invoice, intents);
  }

  #liveIntent(intents: Stripe.PaymentIntent[]): Stripe.PaymentIntent | undefined {
    return (
      intents.find((intent) => intent.status === "succeeded") ??
      intents.find((intent) => intent.status === "processing")
    );
  }

  /**
   * A new attempt, hence a new key: first search Stripe for a PaymentIntent of the invoice that
   * succeeded or is processing (our record of it may be lost) and adopt it instead.
   */
  async #newAttempt(
    invoice: CollectableInvoice,
    searched: Stripe.PaymentIntent[] | null,
  ): Promise<CollectOutcome> {
    let intents = searched;
    if (intents === null) {
      try {
        intents = await intentsOfInvoice(this.#deps.stripe, invoice.id);
      } catch (error) {
        throw unavailable("search PaymentIntents", error);
      }
    }
    const live = this.#liveIntent(intents);
    if (live) {
      const adopted = await this.#tx((tx, ctx) =>
        adoptIntent(tx, ctx, live, null, "found by searching Stripe before a new attempt"),
      );
      return this.#outcomeOfAdopt(adopted);
    }
    const method = await this.#paymentMethod(invoice);
    const attempts = await attemptsOf(this.#deps.db, invoice.id);
    const attemptNo = (attempts.at(-1)?.attemptNo ?? 0) + 1;
    const id = this.#deps.ids.next("paymentAttempt");
    const nowMs = this.#deps.clock.nowMs();
    const attempt = await this.#tx(async (tx, ctx) => {
      await insertAttempt(
        tx,
        ctx,
        {
          id,
          invoiceId: invoice.id,
          accountId: invoice.accountId,
          attemptNo,
          idempotencyKey: attemptKey(invoice.id, attemptNo),
          origin: "charge",
          status: "created",
          amountMinor: invoice.amountDueMinor - invoice.amountPaidMinor,
          currency: invoice.currency,
          stripeCustomerId: invoice.stripeCustomerId,
          stripePaymentMethodId: method.paymentMethodId,
          stripePaymentIntentId: null,
          keyFirstUsedAtMs: method.paymentMethodId === null ? null : nowMs,
        },
        `${this.#mode === "initial" ? "Invoice finalized" : `Retry (${this.#mode})`}: attempt ${attemptNo}`,
      );
      if (method.paymentMethodId === null) {
        // Nothing to charge: the attempt fails without calling Stripe and dunning begins.
        await applyAttemptState(
          tx,
          ctx,
          id,
          {
            status: "failed",
            stripeAtMs: null,
            failureCode: method.failureCode,
            failureMessage: method.failureMessage,
          },
          method.failureMessage ?? "no payment method",
        );
      }
      return attemptById(tx, id);
    });
    if (!attempt) {
      throw new AppError("INTERNAL", `Attempt ${id} was not stored`);
    }
    if (attempt.status === "failed") {
      return this.#outcomeOfAttempt(attempt, false);
    }
    return this.#send(invoice, attempt);
  }

  /** The customer's default payment method, or why there is none. */
  async #paymentMethod(invoice: CollectableInvoice): Promise<{
    paymentMethodId: string | null;
    failureCode: string | null;
    failureMessage: string | null;
  }> {
    if (!invoice.stripeCustomerId) {
      return {
        paymentMethodId: null,
        failureCode: "no_customer",
        failureMessage: "The account has no Stripe customer",
      };
    }
    let customer: Stripe.Customer | Stripe.DeletedCustomer;
    try {
      customer = await this.#deps.stripe.customers.retrieve(invoice.stripeCustomerId);
    } catch (error) {
      const classified = classifyStripeError(error);
      if (classified.statusCode === 404) {
        customer = { id: invoice.stripeCustomerId, object: "customer", deleted: true };
      } else {
        throw unavailable("read the customer", error);
      }
    }
    if ("deleted" in customer && customer.deleted) {
      return {
        paymentMethodId: null,
        failureCode: "customer_missing",
        failureMessage: `Stripe customer ${invoice.stripeCustomerId} does not exist`,
      };
    }
    const live = customer as Stripe.Customer;
    const method = idOf(
      live.invoice_settings?.default_payment_method as string | { id: string } | null,
    );
    return method
      ? { paymentMethodId: method, failureCode: null, failureMessage: null }
      : {
          paymentMethodId: null,
          failureCode: "no_payment_method",
          failureMessage: "The customer has no default payment method",
        };
  }

  /**
   * Sends the attempt's request with its own key. The count of calls is written first: if
   * Postgres is down nothing is sent, so no charge ever happens without a row naming its key.
   */
  async #send(invoice: CollectableInvoice, attempt: Attempt): Promise<CollectOutcome> {
    await noteProviderCall(this.#deps.db, attempt.id, null, this.#deps.clock.nowMs());
    let intent: Stripe.PaymentIntent;
    try {
      intent = await this.#deps.stripe.paymentIntents.create(intentParams(invoice, attempt), {
        idempotencyKey: attempt.idempotencyKey,
      });
    } catch (error) {
      return this.#afterError(invoice, attempt, error);
    }
    const sent = intent;
    const adopted = await this.#tx((tx, ctx) =>
      adoptIntent(tx, ctx, sent, null, `Stripe answered attempt ${attempt.attemptNo}`),
    );
    return this.#outcomeOfAdopt(adopted);
  }

  async #afterError(
    invoice: CollectableInvoice,
    attempt: Attempt,
    error: unknown,
  ): Promise<CollectOutcome> {
    const failure = classifyStripeError(error);
    this.#deps.log.warn("payment request failed", {
      invoiceId: attempt.invoiceId,
      attemptId: attempt.id,
      kind: failure.kind,
      statusCode: failure.statusCode,
      code: failure.code,
      replayed: failure.replayed,
    });
    if (failure.kind === "declined" || failure.kind === "rejected") {
      const result = await this.#tx((tx, ctx) =>
        applyAttemptState(
          tx,
          ctx,
          attempt.id,
          {
            status: "failed",
            stripeAtMs: null,
            paymentIntentId: failure.paymentIntentId,
            chargeId: failure.chargeId,
            failureCode: failure.code ?? failure.kind,
            failureMessage: failure.message,
          },
          failure.kind === "declined" ? "The card was declined" : "Stripe rejected the payment",
        ),
      );
      return this.#outcomeOfAttempt(result.attempt, false);
    }
    if (failure.kind === "idempotency_conflict") {
      this.#deps.log.error("idempotency key reused with other parameters", {
        attemptId: attempt.id,
        key: attempt.idempotencyKey,
      });
    }
    const detail = `${failure.kind}: ${failure.message}`;
    await this.#tx((tx, ctx) =>
      applyAttemptState(
        tx,
        ctx,
        attempt.id,
        { status: "unknown", stripeAtMs: null, error: detail },
        "No answer from Stripe; the same key will be sent again",
      ),
    );
    // A key Stripe only ever answers with a saved 5xx (or refuses as reused) will not get a
    // better answer before it expires. Once search has caught up, treat it as expired now.
    const unusable =
      failure.kind === "idempotency_conflict" ||
      (failure.replayed && failure.statusCode !== null && failure.statusCode >= 500);
    const firstUsedAtMs = attempt.keyFirstUsedAtMs ?? attempt.createdAtMs;
    if (unusable && this.#deps.clock.nowMs() - firstUsedAtMs >= UNUSABLE_KEY_SETTLE_MS) {
      return this.#resolveExpired(invoice, attempt);
    }
    return { status: "pending", attemptId: attempt.id, detail };
  }

  async #outcomeOfAdopt(adopted: AdoptOutcome): Promise<CollectOutcome> {
    if (adopted.kind === "duplicate_charge") {
      return { status: "already_paid", attemptId: adopted.existingAttemptId };
    }
    if (adopted.kind === "unknown_invoice") {
      throw new AppError("INTERNAL", `PaymentIntent ${adopted.paymentIntentId} names no invoice`);
    }
    return this.#outcomeOfAttempt(adopted.attempt, adopted.adopted);
  }

  async #outcomeOfAttempt(attempt: Attempt, adopted: boolean): Promise<CollectOutcome> {
    switch (attempt.status) {
      case "succeeded":
        return {
          status: "succeeded",
          attemptId: attempt.id,
          paymentIntentId: attempt.stripePaymentIntentId,
          adopted: adopted || attempt.origin === "adopted",
        };
      case "processing":
        return {
          status: "processing",
          attemptId: attempt.id,
          paymentIntentId: attempt.stripePaymentIntentId,
        };
      case "failed":
      case "canceled": {
        const dunning = await dunningOf(this.#deps.db, attempt.invoiceId);
        return {
          status: "failed",
          attemptId: attempt.id,
          failureCode: attempt.failureCode,
          nextRetryAtMs: dunning?.state === "active" ? dunning.nextRetryAtMs : null,
        };
      }
      default:
        return {
          status: "pending",
          attemptId: attempt.id,
          detail: `the attempt is ${attempt.status}`,
        };
    }
  }
}

function unavailable(what: string, error: unknown): AppError {
  const failure = classifyStripeError(error);
  return new AppError("DEPENDENCY_UNAVAILABLE", `Stripe could not ${what}: ${failure.message}`, {
    detail: "Stripe did not answer; the collection will be retried.",
    cause: error,
    retryable: true,
  });
}

/**
 * Collects an invoice (see CollectMode), holding the invoice's advisory lock for the whole
 * operation: a concurrent collection of the same invoice gets `busy` at once instead of racing.
 * Throws NOT_FOUND for an unknown invoice and DEPENDENCY_UNAVAILABLE (retryable) when Postgres
 * or Stripe fails before anything was sent; a failure after sending is an outcome (`pending`)
 * or, when our own write fails, an exception — in both cases running again is safe.
 */
export async function collectInvoice(
  deps: PaymentDeps,
  invoiceId: string,
  options: { mode: CollectMode; actor?: string },
): Promise<CollectOutcome> {
  const collection = new Collection(
    deps,
    invoiceId,
    options.mode,
    options.actor ?? "system:payments",
  );
  const outcome = await deps.db.transaction(async (lockTx): Promise<CollectOutcome> => {
    if (!(await tryLockInvoice(lockTx, invoiceId))) {
      return { status: "busy" };
    }
    return collection.run();
  });
  const accountId = collection.accountId;
  if (accountId !== null && deps.notifier !== null) {
    try {
      await publishPendingNotifications(deps.db, deps.notifier, accountId, deps.clock.nowMs());
    } catch (error) {
      // They stay in the outbox; the payments tick publishes them later.
      deps.log.warn("payment notifications not published yet", { accountId, error });
    }
  }
  return outcome;
}
