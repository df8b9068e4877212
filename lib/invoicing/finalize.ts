import type { Database, Queryable } from "../adapters/postgres.ts";
import { appendAudit } from "../audit/audit-log.ts";
import { advanceCursor, type BillingAccount } from "../billing/account.ts";
import { type CreditApplication, consumeCredits, expireCredits } from "../billing/credits.ts";
import type { DraftLine, RatingDrift } from "../billing/lines.ts";
import { computeTaxes } from "../billing/tax.ts";
import type { IdGenerator } from "../ids/ids.ts";
import type { Period } from "../periods/period.ts";
import { takeDocumentNumber } from "./numbering.ts";
import { type InvoiceStatus, transitionInvoice } from "./status.ts";

const DAY_MS = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString();
/** Who finalizes: the invoice job, whatever started the run. */
const ACTOR = "system:invoice-run";

export interface FinalizeInput {
  invoiceId: string;
  account: BillingAccount;
  period: Period;
  /** The period after it, where the account's cursor moves. */
  nextPeriod: Period;
  lines: readonly DraftLine[];
  drifts: readonly RatingDrift[];
  runId: string | null;
  nowMs: number;
}

/** What finalization did; `finalized: false` when the invoice had already left draft. */
export type FinalizeOutcome =
  | {
      finalized: true;
      number: string;
      status: InvoiceStatus;
      totalMinor: bigint;
      amountDueMinor: bigint;
      credits: CreditApplication[];
    }
  | { finalized: false; status: InvoiceStatus };

async function insertLines(
  tx: Queryable,
  ids: IdGenerator,
  invoiceId: string,
  lines: readonly DraftLine[],
  taxMinor: readonly bigint[],
): Promise<void> {
  if (lines.length === 0) {
    return;
  }
  const text = (value: { toString(): string } | null) => (value === null ? null : value.toString());
  await tx.query(
    `insert into invoice_lines (id, invoice_id, position, kind, description, meter, plan_id,
                                plan_version_id, tier, quantity, unit_price, flat_fee, amount,
                                amount_minor, tax_minor, period_start, period_end)
     select l.id, $1, l.position, l.kind, l.description, l.meter, l.plan_id, l.plan_version_id,
            l.tier, l.quantity, l.unit_price, l.flat_fee, l.amount, l.amount_minor, l.tax_minor,
            l.period_start, l.period_end
       from unnest($2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[],
                   $8::text[], $9::int[], $10::numeric[], $11::numeric[], $12::numeric[],
                   $13::numeric[], $14::bigint[], $15::bigint[], $16::timestamptz[],
                   $17::timestamptz[])
         as l(id, position, kind, description, meter, plan_id, plan_version_id, tier, quantity,
              unit_price, flat_fee, amount, amount_minor, tax_minor, period_start, period_end)`,
    [
      invoiceId,
      lines.map(() => ids.next("invoiceLine")),
      lines.map((_, i) => i + 1),
      lines.map((l) => l.kind),
      lines.map((l) => l.description),
      lines.map((l) => l.meter),
      lines.map((l) => l.planId),
      lines.map((l) => l.planVersionId),
      lines.map((l) => l.tier),
      lines.map((l) => text(l.quantity)),
      lines.map((l) => text(l.unitPrice)),
      lines.map((l) => text(l.flatFee)),
      lines.map((l) => l.amount.toString()),
      lines.map((l) => l.amountMinor.toString()),
      taxMinor.map((t) => t.toString()),
      lines.map((l) => iso(l.fromMs)),
      lines.map((l) => iso(l.toMs)),
    ],
  );
}

/**
 * Finalizes a draft invoice in ONE transaction: writes its lines and per-rate taxes, applies the
 * account's credit, expires credit no later period can use, audits rating drift, sets totals and
 * the due date (net terms for `send_invoice`, at once otherwise), moves it draft → open (audited)
 * and, when nothing is due, on to paid, advances the account's invoicing cursor, and last takes
 * the next gapless number. If anything fails the whole transaction rolls back, the number
 * included, and the draft stays as it was for the retry. An invoice no longer in draft (another
 * job finished it, or an admin voided the draft) is left alone.
 */
export async function finalizeInvoice(
  db: Database,
  ids: IdGenerator,
  input: FinalizeInput,
): Promise<FinalizeOutcome> {
  const { account, period, nowMs } = input;
  return db.transaction(async (tx) => {
    const locked = await tx.query<{ status: InvoiceStatus }>(
      "select status from invoices where id = $1 for update",
      [input.invoiceId],
    );
    const status = locked.rows[0]?.status;
    if (status !== "draft") {
      if (status === "void") {
        // A voided draft closes its period without an invoice; the cursor still moves on.
        await advanceCursor(tx, account.id, period, input.nextPeriod, nowMs);
      }
      return { finalized: false, status: status ?? "void" };
    }
    // A draft has no lines or taxes: they are only ever written here, with the status change.
    const amounts = input.lines.map((line) => line.amountMinor);
    const tax = computeTaxes(amounts, account.taxRates);
    await insertLines(tx, ids, input.invoiceId, input.lines, tax.lineTaxMinor);
    if (tax.rates.length > 0) {
      await tx.query(
        `insert into invoice_taxes (invoice_id, position, name, percent, taxable_minor, tax_minor)
         select $1, t.position, t.name, t.percent, t.taxable_minor, t.tax_minor
           from unnest($2::int[], $3::text[], $4::numeric[], $5::bigint[], $6::bigint[])
             as t(position, name, percent, taxable_minor, tax_minor)`,
        [
          input.invoiceId,
          tax.rates.map((_, i) => i + 1),
          tax.rates.map((r) => r.name),
          tax.rates.map((r) => r.percent),
          tax.rates.map((r) => r.taxableMinor.toString()),
          tax.rates.map((r) => r.taxMinor.toString()),
        ],
      );
    }
    const subtotal = amounts.reduce((sum, amount) => sum + amount, 0n);
    const total = subtotal + tax.totalMinor;
    // Accounts that never had credit (most) skip the two credit queries.
    const credits = account.hasCredit
      ? await consumeCredits(tx, ids, {
          accountId: account.id,
          currency: account.currency,
          invoiceId: input.invoiceId,
          periodStartMs: period.startMs,
          periodEndMs: period.endMs,
          amountMinor: total,
          nowMs,
        })
      : [];
    const creditsApplied = credits.reduce((sum, c) => sum + c.amountMinor, 0n);
    if (account.hasCredit) {
      await expireCredits(tx, ids, { accountId: account.id, throughMs: period.endMs, nowMs });
    }
    for (const drift of input.drifts) {
      await appendAudit(tx, ids, {
        accountId: account.id,
        actor: ACTOR,
        action: "invoice.rating_drift",
        subjectType: "invoice",
        subjectId: input.invoiceId,
        reason:
          `The ledger rated ${drift.meter} (${drift.segment}) at ${drift.ledgerAmount}; the plan ` +
          `version rates it ${drift.reratedAmount}, which is billed`,
        before: { amount: drift.ledgerAmount },
        after: { amount: drift.reratedAmount, quantity: drift.quantity },
        occurredAtMs: nowMs,
      });
    }
    // A negative total (refunds beyond charges on a take-rate meter) bills nothing.
    const amountDue = total - creditsApplied > 0n ? total - creditsApplied : 0n;
    const dueAtMs =
      account.collectionMethod === "send_invoice" ? nowMs + account.netTermsDays * DAY_MS : nowMs;
    // The real number is taken last (below): the series row stays locked from then until
    // commit, serialising every finalization, so only two statements may follow it. Until then
    // the row carries a placeholder that no other transaction can ever see.
    await tx.query(
      `update invoices set number = $2, currency = $3, collection_method = $4,
              net_terms_days = $5, po_number = $6, customer = $7, subtotal_minor = $8,
              tax_minor = $9, credits_applied_minor = $10, total_minor = $11,
              amount_due_minor = $12, finalized_at = $13, due_at = $14,
              run_id = coalesce($15, run_id), updated_at = $13
        where id = $1`,
      [
        input.invoiceId,
        `pending:${input.invoiceId}`,
        account.currency,
        account.collectionMethod,
        account.collectionMethod === "send_invoice" ? account.netTermsDays : 0,
        account.poNumber,
        JSON.stringify({ name: account.name, email: account.email, timeZone: account.timeZone }),
        subtotal.toString(),
        tax.totalMinor.toString(),
        creditsApplied.toString(),
        total.toString(),
        amountDue.toString(),
        iso(nowMs),
        iso(dueAtMs),
        input.runId,
      ],
    );
    await transitionInvoice(tx, ids, {
      invoiceId: input.invoiceId,
      to: "open",
      actor: ACTOR,
      reason: `Period ${iso(period.startMs)} – ${iso(period.endMs)} closed`,
      atMs: nowMs,
    });
    let finalStatus: InvoiceStatus = "open";
    if (amountDue === 0n) {
      await transitionInvoice(tx, ids, {
        invoiceId: input.invoiceId,
        to: "paid",
        actor: ACTOR,
        reason: creditsApplied > 0n ? "Settled in full by credit" : "Nothing to pay",
        atMs: nowMs,
        amountPaidMinor: 0n,
      });
      finalStatus = "paid";
    }
    await advanceCursor(tx, account.id, period, input.nextPeriod, nowMs);
    const number = await takeDocumentNumber(tx, "INV");
    await tx.query("update invoices set number = $2 where id = $1", [input.invoiceId, number]);
    return {
      finalized: true,
      number,
      status: finalStatus,
      totalMinor: total,
      amountDueMinor: amountDue,
      credits,
    };
  });
}
