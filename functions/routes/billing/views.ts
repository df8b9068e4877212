import { z } from "@hono/zod-openapi";
import type { CreditGrant, LedgerEntry } from "../../../lib/billing/credits.ts";
import type { UpcomingInvoice } from "../../../lib/billing/preview.ts";
import { AppError } from "../../../lib/errors/index.ts";
import type { CreditNote } from "../../../lib/invoicing/credit-notes.ts";
import type { Invoice, InvoiceDocument } from "../../../lib/invoicing/invoices.ts";
import { INVOICE_TRANSITIONS } from "../../../lib/invoicing/status.ts";
import { fromMinorUnits } from "../../../lib/money/money.ts";

/** JSON shapes of the billing API, and the functions that build them. */

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/**
 * Minor units as a JSON integer. Beyond ±(2^53 − 1) a number would lose digits, so the answer
 * is a 422 AMOUNT_TOO_LARGE problem rather than a wrong figure (or a bare 500).
 */
export function minor(value: bigint): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < -BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new AppError("AMOUNT_TOO_LARGE", `${value} minor units do not fit a JSON number`, {
      detail:
        `An amount of ${value} minor units exceeds 2^53 - 1, the largest a JSON number states ` +
        "exactly. Look for runaway usage values on this account (its usage report lists them " +
        "per meter) and correct them with a credit note or a void.",
    });
  }
  return Number(value);
}

const Minor = z.number().int().openapi({ description: "Integer minor units of `currency`" });
const Instant = z.string().openapi({ example: "2026-11-01T00:00:00.000Z" });
export const InvoiceStatusSchema = z.enum(
  Object.keys(INVOICE_TRANSITIONS) as ["draft", "open", "paid", "uncollectible", "void"],
);

export const InvoiceSchema = z
  .object({
    id: z.string(),
    accountId: z.string(),
    number: z.string().nullable().openapi({ example: "INV-000042" }),
    status: InvoiceStatusSchema,
    currency: z.string(),
    periodStart: Instant,
    periodEnd: Instant,
    collectionMethod: z.enum(["charge_automatically", "send_invoice"]),
    netTermsDays: z.number().int(),
    poNumber: z.string().nullable(),
    customer: z
      .object({ name: z.string(), email: z.string().nullable(), timeZone: z.string() })
      .nullable(),
    subtotalMinor: Minor,
    taxMinor: Minor,
    totalMinor: Minor,
    creditsAppliedMinor: Minor,
    amountDueMinor: Minor,
    amountPaidMinor: Minor,
    amountCreditedMinor: Minor,
    runId: z.string().nullable(),
    finalizedAt: Instant.nullable(),
    dueAt: Instant.nullable(),
    paidAt: Instant.nullable(),
    voidedAt: Instant.nullable(),
    overdueNotifiedAt: Instant.nullable(),
    createdAt: Instant,
    htmlUrl: z.string().openapi({ description: "The printable page" }),
  })
  .openapi("Invoice");

const LineSchema = z
  .object({
    id: z.string(),
    position: z.number().int(),
    kind: z.string().openapi({ example: "usage" }),
    description: z.string(),
    meter: z.string().nullable(),
    planId: z.string().nullable(),
    planVersionId: z.string().nullable(),
    tier: z.number().int().nullable().openapi({ description: "1-based tier of the price" }),
    quantity: z.string().nullable(),
    unitPrice: z.string().nullable(),
    flatFee: z.string().nullable(),
    amount: z.string().openapi({ description: "Exact amount before the line's one rounding" }),
    amountMinor: Minor,
    taxMinor: Minor,
    creditedMinor: Minor,
    periodStart: Instant,
    periodEnd: Instant,
  })
  .openapi("InvoiceLine");

const TaxSchema = z
  .object({ name: z.string(), percent: z.string(), taxableMinor: Minor, taxMinor: Minor })
  .openapi("InvoiceTax");

export const CreditNoteSchema = z
  .object({
    id: z.string(),
    number: z.string().openapi({ example: "CN-000007" }),
    invoiceId: z.string(),
    accountId: z.string(),
    currency: z.string(),
    reason: z.string(),
    subtotalMinor: Minor,
    taxMinor: Minor,
    totalMinor: Minor,
    appliedToDueMinor: Minor,
    creditedToBalanceMinor: Minor,
    grantId: z.string().nullable(),
    lines: z.array(z.object({ invoiceLineId: z.string(), amountMinor: Minor, taxMinor: Minor })),
    createdAt: Instant,
  })
  .openapi("CreditNote");

export const InvoiceDocumentSchema = InvoiceSchema.extend({
  lines: z.array(LineSchema),
  taxes: z.array(TaxSchema),
  credits: z.array(z.object({ grantId: z.string(), kind: z.string(), amountMinor: Minor })),
  creditNotes: z.array(
    CreditNoteSchema.omit({
      invoiceId: true,
      accountId: true,
      currency: true,
      subtotalMinor: true,
    }),
  ),
}).openapi("InvoiceDocument");

export function invoiceView(invoice: Invoice) {
  return {
    id: invoice.id,
    accountId: invoice.accountId,
    number: invoice.number,
    status: invoice.status,
    currency: invoice.currency,
    periodStart: iso(invoice.periodStartMs) as string,
    periodEnd: iso(invoice.periodEndMs) as string,
    collectionMethod: invoice.collectionMethod,
    netTermsDays: invoice.netTermsDays,
    poNumber: invoice.poNumber,
    customer: invoice.customer,
    subtotalMinor: minor(invoice.subtotalMinor),
    taxMinor: minor(invoice.taxMinor),
    totalMinor: minor(invoice.totalMinor),
    creditsAppliedMinor: minor(invoice.creditsAppliedMinor),
    amountDueMinor: minor(invoice.amountDueMinor),
    amountPaidMinor: minor(invoice.amountPaidMinor),
    amountCreditedMinor: minor(invoice.amountCreditedMinor),
    runId: invoice.runId,
    finalizedAt: iso(invoice.finalizedAtMs),
    dueAt: iso(invoice.dueAtMs),
    paidAt: iso(invoice.paidAtMs),
    voidedAt: iso(invoice.voidedAtMs),
    overdueNotifiedAt: iso(invoice.overdueNotifiedAtMs),
    createdAt: iso(invoice.createdAtMs) as string,
    htmlUrl: `/v1/invoices/${invoice.id}.html`,
  };
}

export function documentView(doc: InvoiceDocument) {
  return {
    ...invoiceView(doc.invoice),
    lines: doc.lines.map((line) => ({
      id: line.id,
      position: line.position,
      kind: line.kind,
      description: line.description,
      meter: line.meter,
      planId: line.planId,
      planVersionId: line.planVersionId,
      tier: line.tier,
      quantity: line.quantity,
      unitPrice: line.unitPrice,
      flatFee: line.flatFee,
      amount: line.amount,
      amountMinor: minor(line.amountMinor),
      taxMinor: minor(line.taxMinor),
      creditedMinor: minor(line.creditedMinor),
      periodStart: iso(line.periodStartMs) as string,
      periodEnd: iso(line.periodEndMs) as string,
    })),
    taxes: doc.taxes.map((t) => ({
      name: t.name,
      percent: t.percent,
      taxableMinor: minor(t.taxableMinor),
      taxMinor: minor(t.taxMinor),
    })),
    credits: doc.credits.map((c) => ({
      grantId: c.grantId,
      kind: c.kind,
      amountMinor: minor(c.amountMinor),
    })),
    creditNotes: doc.creditNotes.map((n) => ({
      id: n.id,
      number: n.number,
      reason: n.reason,
      taxMinor: minor(n.taxMinor),
      totalMinor: minor(n.totalMinor),
      appliedToDueMinor: minor(n.appliedToDueMinor),
      creditedToBalanceMinor: minor(n.creditedToBalanceMinor),
      grantId: n.grantId,
      lines: n.lines.map((l) => ({
        invoiceLineId: l.invoiceLineId,
        amountMinor: minor(l.amountMinor),
        taxMinor: minor(l.taxMinor),
      })),
      createdAt: iso(n.createdAtMs) as string,
    })),
  };
}

export function creditNoteView(note: CreditNote) {
  return {
    id: note.id,
    number: note.number,
    invoiceId: note.invoiceId,
    accountId: note.accountId,
    currency: note.currency,
    reason: note.reason,
    subtotalMinor: minor(note.subtotalMinor),
    taxMinor: minor(note.taxMinor),
    totalMinor: minor(note.totalMinor),
    appliedToDueMinor: minor(note.appliedToDueMinor),
    creditedToBalanceMinor: minor(note.creditedToBalanceMinor),
    grantId: note.grantId,
    lines: note.lines.map((l) => ({
      invoiceLineId: l.invoiceLineId,
      amountMinor: minor(l.amountMinor),
      taxMinor: minor(l.taxMinor),
    })),
    createdAt: iso(note.createdAtMs) as string,
  };
}

export const GrantSchema = z
  .object({
    id: z.string(),
    accountId: z.string(),
    kind: z.enum(["promotional", "purchased"]),
    currency: z.string(),
    amount: z.string().openapi({ example: "100.00" }),
    amountMinor: Minor,
    remainingMinor: Minor,
    priority: z.number().int(),
    effectiveAt: Instant,
    expiresAt: Instant.nullable(),
    description: z.string(),
    source: z.string().nullable(),
    voidedAt: Instant.nullable(),
    createdAt: Instant,
  })
  .openapi("CreditGrant");

export function grantView(grant: CreditGrant) {
  const amount = fromMinorUnits(grant.amountMinor, grant.currency);
  return {
    id: grant.id,
    accountId: grant.accountId,
    kind: grant.kind,
    currency: grant.currency,
    amount: amount.toFixed(amount.scale),
    amountMinor: minor(grant.amountMinor),
    remainingMinor: minor(grant.remainingMinor),
    priority: grant.priority,
    effectiveAt: iso(grant.effectiveAtMs) as string,
    expiresAt: iso(grant.expiresAtMs),
    description: grant.description,
    source: grant.source,
    voidedAt: iso(grant.voidedAtMs),
    createdAt: iso(grant.createdAtMs) as string,
  };
}

export const LedgerEntrySchema = z
  .object({
    id: z.string(),
    grantId: z.string(),
    kind: z.enum(["grant", "consume", "reverse", "expire", "void"]),
    amountMinor: Minor.openapi({ description: "Signed: + adds credit, − takes it" }),
    currency: z.string(),
    invoiceId: z.string().nullable(),
    occurredAt: Instant,
  })
  .openapi("CreditLedgerEntry");

export function ledgerView(entry: LedgerEntry) {
  return {
    id: entry.id,
    grantId: entry.grantId,
    kind: entry.kind as "grant" | "consume" | "reverse" | "expire" | "void",
    amountMinor: minor(entry.amountMinor),
    currency: entry.currency,
    invoiceId: entry.invoiceId,
    occurredAt: iso(entry.occurredAtMs) as string,
  };
}

export const UpcomingSchema = z
  .object({
    accountId: z.string(),
    currency: z.string(),
    periodStart: Instant,
    periodEnd: Instant,
    asOf: Instant,
    lines: z.array(
      LineSchema.omit({ id: true, position: true, creditedMinor: true }).extend({
        position: z.number().int(),
      }),
    ),
    taxes: z.array(TaxSchema),
    subtotalMinor: Minor,
    taxMinor: Minor,
    totalMinor: Minor,
    creditsAppliedMinor: Minor,
    amountDueMinor: Minor,
    ratingDrifts: z.array(
      z.object({
        meter: z.string(),
        segment: z.string(),
        quantity: z.string(),
        ledgerAmount: z.string(),
        reratedAmount: z.string(),
      }),
    ),
  })
  .openapi("UpcomingInvoice");

export function upcomingView(preview: UpcomingInvoice) {
  const text = (value: { toString(): string } | null) => (value === null ? null : value.toString());
  return {
    accountId: preview.accountId,
    currency: preview.currency,
    periodStart: iso(preview.period.startMs) as string,
    periodEnd: iso(preview.period.endMs) as string,
    asOf: iso(preview.asOfMs) as string,
    lines: preview.lines.map((line, index) => ({
      position: index + 1,
      kind: line.kind,
      description: line.description,
      meter: line.meter,
      planId: line.planId,
      planVersionId: line.planVersionId,
      tier: line.tier,
      quantity: text(line.quantity),
      unitPrice: text(line.unitPrice),
      flatFee: text(line.flatFee),
      amount: line.amount.toString(),
      amountMinor: minor(line.amountMinor),
      taxMinor: minor(line.taxMinor),
      periodStart: iso(line.fromMs) as string,
      periodEnd: iso(line.toMs) as string,
    })),
    taxes: preview.taxes.map((t) => ({
      name: t.name,
      percent: t.percent,
      taxableMinor: minor(t.taxableMinor),
      taxMinor: minor(t.taxMinor),
    })),
    subtotalMinor: minor(preview.subtotalMinor),
    taxMinor: minor(preview.taxMinor),
    totalMinor: minor(preview.totalMinor),
    creditsAppliedMinor: minor(preview.creditsAppliedMinor),
    amountDueMinor: minor(preview.amountDueMinor),
    ratingDrifts: preview.drifts,
  };
}
