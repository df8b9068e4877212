import { createRoute, z } from "@hono/zod-openapi";
import { loadBillingAccount } from "../../../lib/billing/account.ts";
import { readInvoiceSummary } from "../../../lib/billing/status.ts";
import { parseTaxRates } from "../../../lib/billing/tax.ts";
import { AppError } from "../../../lib/errors/index.ts";
import { meterFor } from "../../meters.ts";
import { accountScope, authenticate, pendingKeyHash } from "../../middleware/auth.ts";
import { possibleIdsOnly } from "../../middleware/path-ids.ts";
import { BEARER, createRouter, problemResponses } from "../../openapi.ts";
import { withDatabase } from "./support.ts";
import { minor } from "./views.ts";

const json = <T extends z.ZodType>(schema: T) => ({ "application/json": { schema } });
const AccountParam = z.object({ accountId: z.string().min(1).max(200) });

function notFound(): AppError {
  return new AppError("NOT_FOUND", "No such account", {
    detail: "The account does not exist or this key cannot see it.",
  });
}

const StatusSchema = z
  .object({
    accountId: z.string(),
    status: z.enum(["active", "capped"]).openapi({
      description:
        "Billing status: `capped` once the period's rated spend reached the hard cap (until the " +
        "period ends). Separate from the fraud throttle level (GET …/risk).",
    }),
    period: z.object({ start: z.string(), end: z.string() }),
    spend: z.object({
      spent: z.string(),
      budget: z.string().nullable(),
      capped: z.boolean(),
      alertedPercents: z.array(z.number().int()),
    }),
    credits: z.object({
      currency: z.string().nullable(),
      granted: z.string(),
      drawn: z.string(),
      balance: z.string(),
    }),
    invoices: z.object({
      open: z.number().int(),
      overdue: z.number().int(),
      amountDueMinor: z.number().int(),
      currency: z.string(),
    }),
  })
  .openapi("AccountBillingStatus");

const TaxRatesSchema = z
  .array(z.object({ name: z.string(), percent: z.string().openapi({ example: "8.875" }) }))
  .openapi("TaxRates");

/** Account billing status (spend cap, credit, invoices) and tax rates. */
export const statusRoutes = createRouter();
statusRoutes.use(
  "/v1/accounts/:accountId/status",
  authenticate({ meterVerifies: true }),
  possibleIdsOnly,
);
statusRoutes.on(["GET"], "/v1/accounts/:accountId/tax-rates", authenticate(), possibleIdsOnly);
statusRoutes.on(
  ["PUT"],
  "/v1/accounts/:accountId/tax-rates",
  authenticate({ adminOnly: true }),
  possibleIdsOnly,
);

statusRoutes.openapi(
  createRoute({
    method: "get",
    path: "/v1/accounts/{accountId}/status",
    summary: "An account's billing status: spend cap, prepaid credit, open invoices",
    security: BEARER,
    request: { params: AccountParam },
    responses: {
      200: { description: "Status", content: json(StatusSchema) },
      ...problemResponses(401, 404, 503),
    },
  }),
  async (c) => {
    const accountId = accountScope(c, c.req.valid("param").accountId);
    const reply = await meterFor(c.env, accountId).usage(
      accountId,
      { meters: [] },
      pendingKeyHash(c),
    );
    if (reply.status === "unauthenticated") {
      throw new AppError("UNAUTHENTICATED", "Missing or invalid API key", {
        detail: "The API key is not valid or was revoked.",
      });
    }
    if (reply.status === "unknown_account") {
      throw notFound();
    }
    if (reply.status === "unavailable") {
      throw new AppError("DEPENDENCY_UNAVAILABLE", "Status is temporarily unavailable", {
        detail: reply.detail,
        retryAfterSeconds: 2,
      });
    }
    const { report, spend } = reply;
    const invoices = await withDatabase(c, (db) =>
      readInvoiceSummary(db, accountId, report.currency, c.get("clock").nowMs()),
    );
    return c.json(
      {
        accountId,
        status: spend.capped ? ("capped" as const) : ("active" as const),
        period: {
          start: new Date(report.period.startMs).toISOString(),
          end: new Date(report.period.endMs).toISOString(),
        },
        spend: {
          spent: spend.spent,
          budget: spend.budget,
          capped: spend.capped,
          alertedPercents: spend.alertedPercents,
        },
        credits: {
          currency: spend.credits.currency,
          granted: spend.credits.granted,
          drawn: spend.credits.drawn,
          balance: spend.credits.balance,
        },
        invoices: {
          open: invoices.open,
          overdue: invoices.overdue,
          amountDueMinor: minor(invoices.amountDueMinor),
          currency: report.currency,
        },
      },
      200,
    );
  },
);

statusRoutes.openapi(
  createRoute({
    method: "get",
    path: "/v1/accounts/{accountId}/tax-rates",
    summary: "The tax rates applied to the account's invoices",
    security: BEARER,
    request: { params: AccountParam },
    responses: {
      200: { description: "Rates", content: json(z.object({ taxRates: TaxRatesSchema })) },
      ...problemResponses(401, 404, 503),
    },
  }),
  async (c) => {
    const accountId = accountScope(c, c.req.valid("param").accountId);
    const account = await withDatabase(c, (db) => loadBillingAccount(db, accountId));
    if (!account) {
      throw notFound();
    }
    return c.json({ taxRates: account.taxRates }, 200);
  },
);

statusRoutes.openapi(
  createRoute({
    method: "put",
    path: "/v1/accounts/{accountId}/tax-rates",
    summary: "Replace the account's tax rates",
    description:
      "Exclusive taxes, each a percent of every line; they apply to invoices finalized from now " +
      "on. Rounding: per rate on the invoice total (half up), shared over lines by largest " +
      "remainder, so line taxes add up to the invoice tax.",
    security: BEARER,
    request: {
      params: AccountParam,
      body: { required: true, content: json(z.object({ taxRates: z.array(z.unknown()) })) },
    },
    responses: {
      200: { description: "Rates", content: json(z.object({ taxRates: TaxRatesSchema })) },
      ...problemResponses(400, 401, 403, 404, 422, 503),
    },
  }),
  async (c) => {
    const { accountId } = c.req.valid("param");
    const rates = parseTaxRates(c.req.valid("json").taxRates);
    const updated = await withDatabase(c, async (db) => {
      const result = await db.query(
        "update accounts set tax_rates = $2, updated_at = $3 where id = $1",
        [accountId, JSON.stringify(rates), new Date(c.get("clock").nowMs()).toISOString()],
      );
      return result.rowCount;
    });
    if (updated === 0) {
      throw notFound();
    }
    return c.json({ taxRates: rates }, 200);
  },
);
