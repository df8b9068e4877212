import { createRoute, z } from "@hono/zod-openapi";
import type { Database } from "../../lib/adapters/postgres.ts";
import { openDatabase } from "../../lib/adapters/postgres.ts";
import type { Clock } from "../../lib/clock/clock.ts";
import { configFor } from "../../lib/env/config.ts";
import { AppError } from "../../lib/errors/index.ts";
import type { IdGenerator } from "../../lib/ids/ids.ts";
import type { Logger } from "../../lib/log/logger.ts";
import { billingStatusOf } from "../../lib/payments/account-status.ts";
import { type Attempt, attemptsOf } from "../../lib/payments/attempts.ts";
import { type CollectOutcome, collectInvoice } from "../../lib/payments/collect.ts";
import { openPaymentDeps, type PaymentDeps } from "../../lib/payments/deps.ts";
import { dunningOf } from "../../lib/payments/dunning.ts";
import { refundInvoice } from "../../lib/payments/refunds.ts";
import { accountScope, authenticate } from "../middleware/auth.ts";
import { possibleIdsOnly } from "../middleware/path-ids.ts";
import { BEARER, createRouter, problemResponses } from "../openapi.ts";

/**
 * Payment dependencies for one invocation from the Worker's env: Postgres (own pool unless `db`
 * is given), Stripe, QStash for notifications and the WORK queue for follow-up messages.
 */
export function paymentDepsForEnv(
  env: Env,
  extras: { clock: Clock; ids: IdGenerator; log: Logger; db?: Database },
): PaymentDeps & { close(): Promise<void> } {
  return openPaymentDeps(configFor(env), {
    ...extras,
    work: {
      send: async (body) => {
        await env.WORK.send(body, { contentType: "json" });
      },
    },
  });
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function attemptView(attempt: Attempt) {
  return {
    id: attempt.id,
    attemptNo: attempt.attemptNo,
    status: attempt.status,
    origin: attempt.origin,
    amountMinor: attempt.amountMinor.toString(),
    currency: attempt.currency,
    amountRefundedMinor: attempt.amountRefundedMinor.toString(),
    idempotencyKey: attempt.idempotencyKey,
    paymentIntentId: attempt.stripePaymentIntentId,
    chargeId: attempt.stripeChargeId,
    failureCode: attempt.failureCode,
    failureMessage: attempt.failureMessage,
    providerCalls: attempt.providerCalls,
    createdAt: iso(attempt.createdAtMs) as string,
    updatedAt: iso(attempt.updatedAtMs) as string,
  };
}

function outcomeView(outcome: CollectOutcome) {
  const view: Record<string, unknown> = { ...outcome };
  if ("nextRetryAtMs" in outcome) {
    delete view.nextRetryAtMs;
    view.nextRetryAt = iso(outcome.nextRetryAtMs);
  }
  return view;
}

const AttemptSchema = z
  .object({
    id: z.string(),
    attemptNo: z.number().int(),
    status: z.string(),
    origin: z.string(),
    amountMinor: z.string(),
    currency: z.string(),
    amountRefundedMinor: z.string(),
    idempotencyKey: z.string(),
    paymentIntentId: z.string().nullable(),
    chargeId: z.string().nullable(),
    failureCode: z.string().nullable(),
    failureMessage: z.string().nullable(),
    providerCalls: z.number().int(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("PaymentAttempt");

type RefundReason = "duplicate" | "fraudulent" | "requested_by_customer";

const InvoiceParam = z.object({ invoiceId: z.string().min(1).max(200) });

/** Admin endpoints over an invoice's payments, and an account's billing status. */
export const paymentRoutes = createRouter();
paymentRoutes.use(
  "/v1/invoices/:invoiceId/collect",
  authenticate({ adminOnly: true }),
  possibleIdsOnly,
);
paymentRoutes.use(
  "/v1/invoices/:invoiceId/payments",
  authenticate({ adminOnly: true }),
  possibleIdsOnly,
);
paymentRoutes.use(
  "/v1/invoices/:invoiceId/refunds",
  authenticate({ adminOnly: true }),
  possibleIdsOnly,
);
paymentRoutes.use("/v1/accounts/:accountId/billing-status", authenticate(), possibleIdsOnly);

paymentRoutes.openapi(
  createRoute({
    method: "post",
    path: "/v1/invoices/{invoiceId}/collect",
    summary: "Collect an invoice now",
    description:
      "Runs a collection at once (an admin's retry): resends an attempt whose answer was lost " +
      "with the same idempotency key, or makes a new attempt after searching Stripe for a " +
      "charge that already happened. Never charges an invoice twice.",
    security: BEARER,
    request: { params: InvoiceParam },
    responses: {
      200: {
        description: "What the collection did",
        content: {
          "application/json": {
            schema: z.object({ invoiceId: z.string(), outcome: z.record(z.string(), z.unknown()) }),
          },
        },
      },
      ...problemResponses(401, 403, 404, 503),
    },
  }),
  async (c) => {
    const { invoiceId } = c.req.valid("param");
    const deps = paymentDepsForEnv(c.env, {
      clock: c.get("clock"),
      ids: c.get("ids"),
      log: c.get("log"),
    });
    try {
      const outcome = await collectInvoice(deps, invoiceId, { mode: "manual", actor: "admin" });
      return c.json({ invoiceId, outcome: outcomeView(outcome) }, 200);
    } finally {
      c.executionCtx.waitUntil(deps.close());
    }
  },
);

paymentRoutes.openapi(
  createRoute({
    method: "get",
    path: "/v1/invoices/{invoiceId}/payments",
    summary: "An invoice's payment attempts, refunds, disputes and dunning state",
    security: BEARER,
    request: { params: InvoiceParam },
    responses: {
      200: {
        description: "Payments",
        content: {
          "application/json": {
            schema: z.object({
              invoiceId: z.string(),
              attempts: z.array(AttemptSchema),
              refunds: z.array(z.record(z.string(), z.unknown())),
              disputes: z.array(z.record(z.string(), z.unknown())),
              dunning: z
                .object({
                  state: z.string(),
                  failures: z.number().int(),
                  nextRetryAt: z.string().nullable(),
                })
                .nullable(),
            }),
          },
        },
      },
      ...problemResponses(401, 403, 404, 503),
    },
  }),
  async (c) => {
    const { invoiceId } = c.req.valid("param");
    const db = openDatabase(c.get("config").database, { max: 1 });
    try {
      const exists = await db.query("select 1 from invoices where id = $1", [invoiceId]);
      if (exists.rowCount === 0) {
        throw new AppError("NOT_FOUND", `No invoice ${invoiceId}`, {
          detail: "Check the invoice id.",
        });
      }
      const attempts = await attemptsOf(db, invoiceId);
      const refunds = await db.query<Record<string, unknown>>(
        `select id, attempt_id as "attemptId", amount_minor::text as "amountMinor",
                trim(currency) as currency, status, reason
           from payment_refunds where invoice_id = $1 order by stripe_created_at, id`,
        [invoiceId],
      );
      const disputes = await db.query<Record<string, unknown>>(
        `select id, attempt_id as "attemptId", amount_minor::text as "amountMinor",
                trim(currency) as currency, reason, status
           from payment_disputes where invoice_id = $1 order by opened_at, id`,
        [invoiceId],
      );
      const dunning = await dunningOf(db, invoiceId);
      return c.json(
        {
          invoiceId,
          attempts: attempts.map(attemptView),
          refunds: refunds.rows,
          disputes: disputes.rows,
          dunning: dunning && {
            state: dunning.state,
            failures: dunning.failures,
            nextRetryAt: iso(dunning.nextRetryAtMs),
          },
        },
        200,
      );
    } finally {
      c.executionCtx.waitUntil(db.end());
    }
  },
);

paymentRoutes.openapi(
  createRoute({
    method: "post",
    path: "/v1/invoices/{invoiceId}/refunds",
    summary: "Refund an invoice's payment, fully or partly",
    description:
      "Requires an `Idempotency-Key` header: the same key always means the same refund, also " +
      "after Stripe's 24-hour key window.",
    security: BEARER,
    request: {
      params: InvoiceParam,
      headers: z.object({ "idempotency-key": z.string().min(1).max(200) }),
      body: {
        required: false,
        content: {
          "application/json": {
            schema: z.object({
              amountMinor: z
                .string()
                .regex(/^[1-9]\d{0,14}$/)
                .optional()
                .openapi({ description: "Minor units; omit to refund everything not refunded" }),
              reason: z.enum(["duplicate", "fraudulent", "requested_by_customer"]).optional(),
            }),
          },
        },
      },
    },
    responses: {
      200: {
        description: "The refund",
        content: {
          "application/json": {
            schema: z.object({
              refundId: z.string(),
              invoiceId: z.string(),
              amountMinor: z.string(),
              currency: z.string(),
              status: z.string(),
              replayed: z.boolean(),
            }),
          },
        },
      },
      ...problemResponses(401, 403, 404, 409, 422, 503),
    },
  }),
  async (c) => {
    const { invoiceId } = c.req.valid("param");
    const key = c.req.valid("header")["idempotency-key"];
    // The body is optional: without one, everything not yet refunded is refunded.
    const body: { amountMinor?: string; reason?: RefundReason } = c.req.valid("json") ?? {};
    const deps = paymentDepsForEnv(c.env, {
      clock: c.get("clock"),
      ids: c.get("ids"),
      log: c.get("log"),
    });
    try {
      const result = await refundInvoice(deps, {
        invoiceId,
        amountMinor: body.amountMinor === undefined ? null : BigInt(body.amountMinor),
        reason: body.reason ?? null,
        idempotencyKey: key,
        actor: "admin",
      });
      return c.json(result, 200);
    } finally {
      c.executionCtx.waitUntil(deps.close());
    }
  },
);

paymentRoutes.openapi(
  createRoute({
    method: "get",
    path: "/v1/accounts/{accountId}/billing-status",
    summary: "Where the account stands with its payments: normal, grace or restricted",
    security: BEARER,
    request: { params: z.object({ accountId: z.string().min(1).max(200) }) },
    responses: {
      200: {
        description: "Billing status",
        content: {
          "application/json": {
            schema: z.object({
              accountId: z.string(),
              status: z.enum(["normal", "grace", "restricted"]),
              reason: z.string(),
              since: z.string().nullable(),
            }),
          },
        },
      },
      ...problemResponses(401, 404, 503),
    },
  }),
  async (c) => {
    const accountId = accountScope(c, c.req.valid("param").accountId);
    const db = openDatabase(c.get("config").database, { max: 1 });
    try {
      const view = await billingStatusOf(db, accountId);
      return c.json(
        { accountId, status: view.status, reason: view.reason, since: iso(view.sinceMs) },
        200,
      );
    } finally {
      c.executionCtx.waitUntil(db.end());
    }
  },
);
