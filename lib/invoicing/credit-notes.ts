import type { Database, Queryable } from "../adapters/postgres.ts";
import { type Actor, appendAudit } from "../audit/audit-log.ts";
import { createGrant, minMinor } from "../billing/credits.ts";
import { AppError, type FieldError } from "../errors/index.ts";
import type { IdGenerator } from "../ids/ids.ts";
import { divideRounded } from "../money/rounding.ts";
import { requireInvoice } from "./invoices.ts";
import { takeDocumentNumber } from "./numbering.ts";
import { transitionInvoice } from "./status.ts";

/** One line of a credit note request: how much of an invoice line (pre-tax, minor units). */
export interface CreditNoteLineRequest {
  lineId: string;
  amountMinor: bigint;
}

export interface CreditNoteRequest {
  invoiceId: string;
  lines: CreditNoteLineRequest[];
  reason: string;
  actor: Actor;
  nowMs: number;
  idempotencyKey: string | null;
  /** When set, the invoice must belong to this account. */
  accountId?: string;
}

/** A credit note as issued. */
export interface CreditNote {
  id: string;
  number: string;
  invoiceId: string;
  accountId: string;
  currency: string;
  reason: string;
  subtotalMinor: bigint;
  taxMinor: bigint;
  totalMinor: bigint;
  appliedToDueMinor: bigint;
  creditedToBalanceMinor: bigint;
  grantId: string | null;
  lines: { invoiceLineId: string; amountMinor: bigint; taxMinor: bigint }[];
  createdAtMs: number;
  /** True when this is the note an earlier request with the same idempotency key issued. */
  replayed: boolean;
}

const CREDITABLE = new Set(["open", "paid", "uncollectible"]);

/**
 * The tax credited with `amount` of a line: the line's tax in proportion, rounded half up, but
 * never more than the tax not credited yet; crediting the rest of a line credits the rest of its
 * tax exactly, so a line fully credited over several notes gives back exactly its tax.
 */
export function creditedTax(
  line: { amountMinor: bigint; taxMinor: bigint; creditedMinor: bigint; creditedTaxMinor: bigint },
  amountMinor: bigint,
): bigint {
  const taxLeft = line.taxMinor - line.creditedTaxMinor;
  if (line.creditedMinor + amountMinor === line.amountMinor) {
    return taxLeft;
  }
  const share = divideRounded(line.taxMinor * amountMinor, line.amountMinor, "HALF_UP");
  return minMinor(share, taxLeft);
}

/**
 * Issues a line-level credit note against a finalized invoice (open, paid or uncollectible) in
 * one transaction. Each line may be credited at most what it was invoiced for, net of earlier
 * notes (VALIDATION_FAILED naming the lines otherwise); the line's tax is credited in proportion
 * (`creditedTax`). The note reduces the amount due first; what exceeds it (a paid invoice)
 * returns to the account as a purchased credit grant of priority 0 with no expiry. An open or
 * uncollectible invoice credited down to nothing due becomes paid. Gaplessly numbered (`CN-`),
 * audited, and idempotent by (invoice, idempotency key).
 */
export async function issueCreditNote(
  db: Database,
  ids: IdGenerator,
  request: CreditNoteRequest,
): Promise<CreditNote> {
  return db.transaction(async (tx) => {
    const invoice = await requireInvoice(tx, request.invoiceId, {
      forUpdate: true,
      ...(request.accountId === undefined ? {} : { accountId: request.accountId }),
    });
    if (request.idempotencyKey !== null) {
      const earlier = await tx.query<{ id: string }>(
        "select id from credit_notes where invoice_id = $1 and idempotency_key = $2",
        [invoice.id, request.idempotencyKey],
      );
      if (earlier.rows[0]) {
        return { ...(await readCreditNote(tx, earlier.rows[0].id)), replayed: true };
      }
    }
    if (!CREDITABLE.has(invoice.status)) {
      throw new AppError("CONFLICT", `Invoice ${invoice.id} is ${invoice.status}`, {
        detail: "Credit notes correct finalized invoices (open, paid or uncollectible) only.",
        context: { invoiceId: invoice.id, status: invoice.status },
      });
    }
    const { rows } = await tx.query<{
      id: string;
      amount_minor: string;
      tax_minor: string;
      credited_minor: string;
      credited_tax_minor: string;
    }>(
      `select l.id, l.amount_minor::text as amount_minor, l.tax_minor::text as tax_minor,
              coalesce(sum(c.amount_minor), 0)::text as credited_minor,
              coalesce(sum(c.tax_minor), 0)::text as credited_tax_minor
         from invoice_lines l left join credit_note_lines c on c.invoice_line_id = l.id
        where l.invoice_id = $1 group by l.id`,
      [invoice.id],
    );
    const lines = new Map(
      rows.map((row) => [
        row.id,
        {
          amountMinor: BigInt(row.amount_minor),
          taxMinor: BigInt(row.tax_minor),
          creditedMinor: BigInt(row.credited_minor),
          creditedTaxMinor: BigInt(row.credited_tax_minor),
        },
      ]),
    );
    const errors: FieldError[] = [];
    const seen = new Set<string>();
    const noteLines: { invoiceLineId: string; amountMinor: bigint; taxMinor: bigint }[] = [];
    request.lines.forEach((item, index) => {
      const field = `/lines/${index}`;
      const line = lines.get(item.lineId);
      if (!line) {
        errors.push({
          field: `${field}/lineId`,
          code: "unknown_line",
          detail: "not a line of this invoice",
        });
        return;
      }
      if (seen.has(item.lineId)) {
        errors.push({ field: `${field}/lineId`, code: "duplicate", detail: "line listed twice" });
        return;
      }
      seen.add(item.lineId);
      const left = line.amountMinor - line.creditedMinor;
      if (item.amountMinor <= 0n || item.amountMinor > left) {
        errors.push({
          field: `${field}/amountMinor`,
          code: "exceeds_invoiced",
          detail: `from 1 to ${left}: the line's ${line.amountMinor} less ${line.creditedMinor} already credited`,
        });
        return;
      }
      noteLines.push({
        invoiceLineId: item.lineId,
        amountMinor: item.amountMinor,
        taxMinor: creditedTax(line, item.amountMinor),
      });
    });
    if (request.lines.length === 0) {
      errors.push({ field: "/lines", code: "required", detail: "at least one line" });
    }
    if (errors.length > 0) {
      throw new AppError("VALIDATION_FAILED", "The credit note is invalid", {
        detail: errors.map((e) => `${e.field}: ${e.detail}`).join("; "),
        fieldErrors: errors,
      });
    }
    const subtotal = noteLines.reduce((sum, l) => sum + l.amountMinor, 0n);
    const tax = noteLines.reduce((sum, l) => sum + l.taxMinor, 0n);
    const total = subtotal + tax;
    const applied = invoice.status === "paid" ? 0n : minMinor(total, invoice.amountDueMinor);
    const toBalance = total - applied;
    const id = ids.next("creditNote");
    const number = await takeDocumentNumber(tx, "CN");
    let grantId: string | null = null;
    if (toBalance > 0n) {
      const { grant } = await createGrant(
        tx,
        ids,
        {
          accountId: invoice.accountId,
          kind: "purchased",
          currency: invoice.currency,
          amountMinor: toBalance,
          priority: 0,
          effectiveAtMs: request.nowMs,
          expiresAtMs: null,
          description: `Credit note ${number} on ${invoice.number}`,
          source: id,
          idempotencyKey: `credit-note:${id}`,
        },
        request.actor,
        request.nowMs,
      );
      grantId = grant.id;
    }
    await tx.query(
      `insert into credit_notes (id, invoice_id, account_id, number, currency, reason,
                                 subtotal_minor, tax_minor, total_minor, applied_to_due_minor,
                                 credited_to_balance_minor, grant_id, idempotency_key, created_at)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
      [
        id,
        invoice.id,
        invoice.accountId,
        number,
        invoice.currency,
        request.reason,
        subtotal.toString(),
        tax.toString(),
        total.toString(),
        applied.toString(),
        toBalance.toString(),
        grantId,
        request.idempotencyKey,
        new Date(request.nowMs).toISOString(),
      ],
    );
    for (const [position, line] of noteLines.entries()) {
      await tx.query(
        `insert into credit_note_lines (credit_note_id, position, invoice_line_id, amount_minor,
                                        tax_minor) values ($1, $2, $3, $4, $5)`,
        [
          id,
          position + 1,
          line.invoiceLineId,
          line.amountMinor.toString(),
          line.taxMinor.toString(),
        ],
      );
    }
    await tx.query(
      `update invoices set amount_credited_minor = amount_credited_minor + $2,
              amount_due_minor = amount_due_minor - $3, updated_at = $4
        where id = $1`,
      [invoice.id, total.toString(), applied.toString(), new Date(request.nowMs).toISOString()],
    );
    await appendAudit(tx, ids, {
      accountId: invoice.accountId,
      actor: request.actor,
      action: "invoice.credit_note_issued",
      subjectType: "invoice",
      subjectId: invoice.id,
      reason: request.reason,
      before: { amountDueMinor: invoice.amountDueMinor.toString() },
      after: {
        creditNote: id,
        number,
        amountDueMinor: (invoice.amountDueMinor - applied).toString(),
        creditedToBalanceMinor: toBalance.toString(),
      },
      amountMinor: total,
      currency: invoice.currency,
      occurredAtMs: request.nowMs,
    });
    if (invoice.status !== "paid" && invoice.amountDueMinor - applied === 0n) {
      await transitionInvoice(tx, ids, {
        invoiceId: invoice.id,
        to: "paid",
        actor: request.actor,
        reason: `Settled by credit note ${number}`,
        atMs: request.nowMs,
        amountPaidMinor: 0n,
      });
    }
    return { ...(await readCreditNote(tx, id)), replayed: false };
  });
}

/** A credit note with its lines; NOT_FOUND when it does not exist. */
export async function readCreditNote(
  db: Queryable,
  creditNoteId: string,
): Promise<Omit<CreditNote, "replayed">> {
  const { rows } = await db.query<{
    id: string;
    number: string;
    invoice_id: string;
    account_id: string;
    currency: string;
    reason: string;
    subtotal_minor: string;
    tax_minor: string;
    total_minor: string;
    applied_to_due_minor: string;
    credited_to_balance_minor: string;
    grant_id: string | null;
    created_at: Date;
  }>(
    `select id, number, invoice_id, account_id, currency, reason,
            subtotal_minor::text as subtotal_minor, tax_minor::text as tax_minor,
            total_minor::text as total_minor, applied_to_due_minor::text as applied_to_due_minor,
            credited_to_balance_minor::text as credited_to_balance_minor, grant_id, created_at
       from credit_notes where id = $1`,
    [creditNoteId],
  );
  const row = rows[0];
  if (!row) {
    throw new AppError("NOT_FOUND", `No credit note ${creditNoteId}`);
  }
  const lines = await db.query<{
    invoice_line_id: string;
    amount_minor: string;
    tax_minor: string;
  }>(
    `select invoice_line_id, amount_minor::text as amount_minor, tax_minor::text as tax_minor
       from credit_note_lines where credit_note_id = $1 order by position`,
    [creditNoteId],
  );
  return {
    id: row.id,
    number: row.number,
    invoiceId: row.invoice_id,
    accountId: row.account_id,
    currency: row.currency.trim(),
    reason: row.reason,
    subtotalMinor: BigInt(row.subtotal_minor),
    taxMinor: BigInt(row.tax_minor),
    totalMinor: BigInt(row.total_minor),
    appliedToDueMinor: BigInt(row.applied_to_due_minor),
    creditedToBalanceMinor: BigInt(row.credited_to_balance_minor),
    grantId: row.grant_id,
    lines: lines.rows.map((l) => ({
      invoiceLineId: l.invoice_line_id,
      amountMinor: BigInt(l.amount_minor),
      taxMinor: BigInt(l.tax_minor),
    })),
    createdAtMs: row.created_at.getTime(),
  };
}
