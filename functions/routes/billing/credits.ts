import { createRoute, z } from "@hono/zod-openapi";
import { loadBillingAccount } from "../../../lib/billing/account.ts";
import {
  createGrant,
  listCreditLedger,
  listGrants,
  parseGrantDraft,
  voidGrant,
} from "../../../lib/billing/credits.ts";
import { AppError } from "../../../lib/errors/index.ts";
import { accountScope, authenticate } from "../../middleware/auth.ts";
import { possibleIdsOnly } from "../../middleware/path-ids.ts";
import { BEARER, createRouter, plainText, problemResponses } from "../../openapi.ts";
import { pushCredits, withDatabase } from "./support.ts";
import { GrantSchema, grantView, LedgerEntrySchema, ledgerView } from "./views.ts";

const json = <T extends z.ZodType>(schema: T) => ({ "application/json": { schema } });
const AccountParam = z.object({ accountId: z.string().min(1).max(200) });

function notFound(): AppError {
  return new AppError("NOT_FOUND", "No such account", {
    detail: "The account does not exist or this key cannot see it.",
  });
}

// Shapes only: lib/billing/credits.ts checks the values, reporting every problem at once.
const GrantRequest = z
  .object({
    amount: z.string().openapi({ example: "250.00", description: "In the account currency" }),
    currency: z.string().optional().openapi({ description: "Must be the account currency" }),
    kind: z.string().openapi({ enum: ["promotional", "purchased"] }),
    priority: z.number().optional().openapi({ description: "0–1000, default 100; lower first" }),
    effectiveAt: z.string().optional().openapi({ description: "RFC 3339; default now" }),
    expiresAt: z.string().nullable().optional().openapi({ description: "RFC 3339, in the future" }),
    description: plainText({ multiline: true }).optional(),
  })
  .openapi("CreditGrantRequest");

/** Credit grants (promotional, purchased) and the append-only credit ledger. */
export const creditRoutes = createRouter();
creditRoutes.on(["GET"], "/v1/accounts/:accountId/credit-grants", authenticate(), possibleIdsOnly);
creditRoutes.on(
  ["POST"],
  "/v1/accounts/:accountId/credit-grants",
  authenticate({ adminOnly: true }),
  possibleIdsOnly,
);
// Exact paths: a trailing `/*` would also match the list route above.
creditRoutes.use(
  "/v1/accounts/:accountId/credit-grants/:grantId/void",
  authenticate({ adminOnly: true }),
  possibleIdsOnly,
);
creditRoutes.use("/v1/accounts/:accountId/credit-ledger", authenticate(), possibleIdsOnly);

creditRoutes.openapi(
  createRoute({
    method: "post",
    path: "/v1/accounts/{accountId}/credit-grants",
    summary: "Grant credit to an account",
    description:
      "Consumed by invoices in this order: lower priority first, then the soonest expiry, then " +
      "the oldest grant. Send `Idempotency-Key` to make it safe to retry.",
    security: BEARER,
    request: {
      params: AccountParam,
      headers: z.object({ "idempotency-key": z.string().min(1).max(200).optional() }),
      body: { required: true, content: json(GrantRequest) },
    },
    responses: {
      201: { description: "The grant", content: json(GrantSchema) },
      200: {
        description: "Replayed: the grant this key created before",
        content: json(GrantSchema),
      },
      ...problemResponses(400, 401, 403, 404, 422, 503),
    },
  }),
  async (c) => {
    const { accountId } = c.req.valid("param");
    const body = c.req.valid("json");
    const nowMs = c.get("clock").nowMs();
    const outcome = await withDatabase(c, async (db) => {
      const account = await loadBillingAccount(db, accountId);
      if (!account) {
        throw notFound();
      }
      const draft = parseGrantDraft(
        body,
        account,
        nowMs,
        c.req.valid("header")["idempotency-key"] ?? null,
      );
      const created = await db.transaction((tx) =>
        createGrant(tx, c.get("ids"), draft, "admin", nowMs),
      );
      if (!created.replayed) {
        await pushCredits(c, db, accountId);
      }
      return created;
    });
    return c.json(grantView(outcome.grant), outcome.replayed ? 200 : 201);
  },
);

creditRoutes.openapi(
  createRoute({
    method: "get",
    path: "/v1/accounts/{accountId}/credit-grants",
    summary: "An account's credit grants with what is left of each",
    security: BEARER,
    request: { params: AccountParam },
    responses: {
      200: {
        description: "Grants, newest first",
        content: json(z.object({ grants: z.array(GrantSchema) })),
      },
      ...problemResponses(401, 404, 503),
    },
  }),
  async (c) => {
    const accountId = accountScope(c, c.req.valid("param").accountId);
    const grants = await withDatabase(c, async (db) => {
      if (!(await loadBillingAccount(db, accountId))) {
        throw notFound();
      }
      return listGrants(db, accountId);
    });
    return c.json({ grants: grants.map(grantView) }, 200);
  },
);

creditRoutes.openapi(
  createRoute({
    method: "post",
    path: "/v1/accounts/{accountId}/credit-grants/{grantId}/void",
    summary: "Void what is left of a credit grant",
    security: BEARER,
    request: {
      params: AccountParam.extend({ grantId: z.string().min(1).max(80) }),
      body: {
        required: true,
        content: json(z.object({ reason: plainText({ multiline: true }).min(1).max(500) })),
      },
    },
    responses: {
      200: { description: "The voided grant", content: json(GrantSchema) },
      ...problemResponses(400, 401, 403, 404, 422, 503),
    },
  }),
  async (c) => {
    const { accountId, grantId } = c.req.valid("param");
    const { reason } = c.req.valid("json");
    const grant = await withDatabase(c, async (db) => {
      const voided = await db.transaction((tx) =>
        voidGrant(tx, c.get("ids"), {
          accountId,
          grantId,
          actor: "admin",
          reason,
          nowMs: c.get("clock").nowMs(),
        }),
      );
      await pushCredits(c, db, accountId);
      return voided;
    });
    return c.json(grantView(grant), 200);
  },
);

creditRoutes.openapi(
  createRoute({
    method: "get",
    path: "/v1/accounts/{accountId}/credit-ledger",
    summary: "Every credit movement of an account, newest first",
    security: BEARER,
    request: {
      params: AccountParam,
      query: z.object({ limit: z.coerce.number().int().min(1).max(500).default(100) }),
    },
    responses: {
      200: {
        description: "Ledger entries",
        content: json(z.object({ entries: z.array(LedgerEntrySchema) })),
      },
      ...problemResponses(401, 404, 422, 503),
    },
  }),
  async (c) => {
    const accountId = accountScope(c, c.req.valid("param").accountId);
    const { limit } = c.req.valid("query");
    const entries = await withDatabase(c, async (db) => {
      if (!(await loadBillingAccount(db, accountId))) {
        throw notFound();
      }
      return listCreditLedger(db, accountId, limit);
    });
    return c.json({ entries: entries.map(ledgerView) }, 200);
  },
);
