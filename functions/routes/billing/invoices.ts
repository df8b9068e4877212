import { createRoute, z } from "@hono/zod-openapi";
import { previewUpcomingInvoice } from "../../../lib/billing/preview.ts";
import { issueCreditNote } from "../../../lib/invoicing/credit-notes.ts";
import { listInvoices, readInvoiceDocument } from "../../../lib/invoicing/invoices.ts";
import { renderInvoiceHtml } from "../../../lib/invoicing/templates/invoice-html.ts";
import { voidInvoice } from "../../../lib/invoicing/void.ts";
import { meterFor } from "../../meters.ts";
import { accountScope, authenticate } from "../../middleware/auth.ts";
import { possibleIdsOnly } from "../../middleware/path-ids.ts";
import { BEARER, createRouter, plainText, problemResponses } from "../../openapi.ts";
import { parseInstant, pushCredits, visibleAccount, withDatabase } from "./support.ts";
import {
  CreditNoteSchema,
  creditNoteView,
  documentView,
  InvoiceDocumentSchema,
  InvoiceSchema,
  InvoiceStatusSchema,
  invoiceView,
  UpcomingSchema,
  upcomingView,
} from "./views.ts";

const json = <T extends z.ZodType>(schema: T) => ({ "application/json": { schema } });
const IdParam = z.object({ id: z.string().min(1).max(80) });

/** Invoices: list, read (JSON or printable HTML), void, credit notes, upcoming preview. */
export const invoiceRoutes = createRouter();
invoiceRoutes.use("/v1/invoices", authenticate());
invoiceRoutes.use("/v1/invoices/:id", authenticate(), possibleIdsOnly);
// Exact paths: other modules mount routes under /v1/invoices/{id}/ with their own auth.
invoiceRoutes.use("/v1/invoices/:id/void", authenticate({ adminOnly: true }), possibleIdsOnly);
invoiceRoutes.use(
  "/v1/invoices/:id/credit-notes",
  authenticate({ adminOnly: true }),
  possibleIdsOnly,
);
invoiceRoutes.use("/v1/accounts/:accountId/invoices/upcoming", authenticate(), possibleIdsOnly);

invoiceRoutes.openapi(
  createRoute({
    method: "get",
    path: "/v1/invoices",
    summary: "List invoices, newest first",
    description: "The admin key sees every account's invoices; an account key only its own.",
    security: BEARER,
    request: {
      query: z.object({
        account: z.string().max(200).optional(),
        status: InvoiceStatusSchema.optional(),
        periodFrom: z.string().optional().openapi({ description: "Periods starting at or after" }),
        periodTo: z.string().optional().openapi({ description: "Periods starting before" }),
        limit: z.coerce.number().int().min(1).max(100).default(20),
        after: z.string().max(80).optional().openapi({ description: "Cursor: `next` of a page" }),
      }),
    },
    responses: {
      200: {
        description: "A page of invoices",
        content: json(z.object({ invoices: z.array(InvoiceSchema), next: z.string().nullable() })),
      },
      ...problemResponses(400, 401, 422, 503),
    },
  }),
  async (c) => {
    const query = c.req.valid("query");
    const own = visibleAccount(c);
    const accountId = own ?? query.account;
    const page = await withDatabase(c, (db) =>
      listInvoices(db, {
        ...(accountId === undefined ? {} : { accountId }),
        ...(query.status === undefined ? {} : { status: query.status }),
        ...(query.periodFrom === undefined
          ? {}
          : { periodFromMs: parseInstant(query.periodFrom, "periodFrom") }),
        ...(query.periodTo === undefined
          ? {}
          : { periodToMs: parseInstant(query.periodTo, "periodTo") }),
        ...(query.after === undefined ? {} : { afterId: query.after }),
        limit: query.limit,
      }),
    );
    return c.json({ invoices: page.invoices.map(invoiceView), next: page.nextAfter }, 200);
  },
);

invoiceRoutes.openapi(
  createRoute({
    method: "get",
    path: "/v1/invoices/{id}",
    summary: "An invoice with its lines, taxes, credits and credit notes",
    description:
      "JSON by default; the printable HTML page with `?format=html` or as `/v1/invoices/{id}.html`.",
    security: BEARER,
    request: {
      params: IdParam,
      query: z.object({ format: z.enum(["json", "html"]).default("json") }),
    },
    responses: {
      200: {
        description: "The invoice",
        content: {
          ...json(InvoiceDocumentSchema),
          "text/html": { schema: z.string() },
        },
      },
      ...problemResponses(401, 404, 503),
    },
  }),
  async (c) => {
    let id = c.req.valid("param").id;
    let format = c.req.valid("query").format;
    if (id.endsWith(".html")) {
      id = id.slice(0, -".html".length);
      format = "html";
    }
    const doc = await withDatabase(c, (db) => readInvoiceDocument(db, id, visibleAccount(c)));
    if (format === "html") {
      return c.html(renderInvoiceHtml(doc), 200);
    }
    return c.json(documentView(doc), 200);
  },
);

invoiceRoutes.openapi(
  createRoute({
    method: "post",
    path: "/v1/invoices/{id}/void",
    summary: "Void an invoice",
    description:
      "Draft, open or uncollectible invoices only (paid ones take a credit note). Credit the " +
      "invoice consumed returns to its grants. Voiding a void invoice changes nothing.",
    security: BEARER,
    request: {
      params: IdParam,
      body: {
        required: true,
        content: json(z.object({ reason: plainText({ multiline: true }).min(1).max(500) })),
      },
    },
    responses: {
      200: { description: "The voided invoice", content: json(InvoiceSchema) },
      ...problemResponses(400, 401, 403, 404, 409, 422, 503),
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const { reason } = c.req.valid("json");
    const invoice = await withDatabase(c, async (db) => {
      const outcome = await voidInvoice(db, c.get("ids"), {
        invoiceId: id,
        actor: "admin",
        reason,
        nowMs: c.get("clock").nowMs(),
      });
      if (outcome.creditsRestoredMinor > 0n) {
        await pushCredits(c, db, outcome.accountId);
      }
      return (await readInvoiceDocument(db, id)).invoice;
    });
    return c.json(invoiceView(invoice), 200);
  },
);

const CreditNoteRequest = z
  .object({
    reason: plainText({ multiline: true }).min(1).max(500),
    lines: z
      .array(
        z.object({
          lineId: z.string().min(1),
          amountMinor: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
        }),
      )
      .min(1)
      .max(500),
  })
  .openapi("CreditNoteRequest");

invoiceRoutes.openapi(
  createRoute({
    method: "post",
    path: "/v1/invoices/{id}/credit-notes",
    summary: "Issue a credit note against invoice lines",
    description:
      "Each line is credited at most what it was invoiced for, net of earlier credit notes; its " +
      "tax follows in proportion. Reduces the amount due; beyond it (a paid invoice) the credit " +
      "returns to the account as a purchased grant. Send `Idempotency-Key` to make it safe to retry.",
    security: BEARER,
    request: {
      params: IdParam,
      headers: z.object({ "idempotency-key": z.string().min(1).max(200).optional() }),
      body: { required: true, content: json(CreditNoteRequest) },
    },
    responses: {
      201: { description: "The credit note", content: json(CreditNoteSchema) },
      200: {
        description: "Replayed: the note this key issued before",
        content: json(CreditNoteSchema),
      },
      ...problemResponses(400, 401, 403, 404, 409, 422, 503),
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    const note = await withDatabase(c, async (db) => {
      const issued = await issueCreditNote(db, c.get("ids"), {
        invoiceId: id,
        lines: body.lines.map((l) => ({ lineId: l.lineId, amountMinor: BigInt(l.amountMinor) })),
        reason: body.reason,
        actor: "admin",
        nowMs: c.get("clock").nowMs(),
        idempotencyKey: c.req.valid("header")["idempotency-key"] ?? null,
      });
      if (issued.grantId !== null && !issued.replayed) {
        await pushCredits(c, db, issued.accountId);
      }
      return issued;
    });
    return c.json(creditNoteView(note), note.replayed ? 200 : 201);
  },
);

invoiceRoutes.openapi(
  createRoute({
    method: "get",
    path: "/v1/accounts/{accountId}/invoices/upcoming",
    summary: "Preview the current period's invoice in real time",
    description:
      "Built from the account meter's live totals with the invoice run's line builder, taxes " +
      "and credit order; nothing is written. The admin key, or the account's own key.",
    security: BEARER,
    request: { params: z.object({ accountId: z.string().min(1).max(200) }) },
    responses: {
      200: { description: "The upcoming invoice", content: json(UpcomingSchema) },
      ...problemResponses(401, 404, 503),
    },
  }),
  async (c) => {
    const accountId = accountScope(c, c.req.valid("param").accountId);
    const preview = await withDatabase(c, (db) =>
      previewUpcomingInvoice({
        db,
        meter: meterFor(c.env, accountId),
        accountId,
        nowMs: c.get("clock").nowMs(),
      }),
    );
    return c.json(upcomingView(preview), 200);
  },
);
