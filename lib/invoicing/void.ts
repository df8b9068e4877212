import type { Database } from "../adapters/postgres.ts";
import type { Actor } from "../audit/audit-log.ts";
import { reverseCredits } from "../billing/credits.ts";
import type { IdGenerator } from "../ids/ids.ts";
import { requireInvoice } from "./invoices.ts";
import { type InvoiceStatus, transitionInvoice } from "./status.ts";

/** What voiding did. */
export interface VoidOutcome {
  invoiceId: string;
  accountId: string;
  from: InvoiceStatus;
  /** False when the invoice was already void (a retry). */
  changed: boolean;
  /** Credit given back to the grants the invoice had consumed (minor units). */
  creditsRestoredMinor: bigint;
}

/**
 * Voids an invoice in one transaction: draft, open or uncollectible → void (audited by
 * transitionInvoice), and every credit the invoice consumed goes back to its grant. A voided
 * draft closes its period without an invoice (the invoice job sees it and moves on). Paid
 * invoices cannot be voided (CONFLICT): correct them with a credit note. Voiding a void invoice
 * is a no-op. NOT_FOUND for an unknown id, or one of another account when `accountId` is given.
 */
export async function voidInvoice(
  db: Database,
  ids: IdGenerator,
  input: { invoiceId: string; actor: Actor; reason: string; nowMs: number; accountId?: string },
): Promise<VoidOutcome> {
  return db.transaction(async (tx) => {
    const invoice = await requireInvoice(tx, input.invoiceId, {
      forUpdate: true,
      ...(input.accountId === undefined ? {} : { accountId: input.accountId }),
    });
    const outcome = await transitionInvoice(tx, ids, {
      invoiceId: input.invoiceId,
      to: "void",
      actor: input.actor,
      reason: input.reason,
      atMs: input.nowMs,
    });
    const restored = outcome.changed
      ? await reverseCredits(tx, ids, {
          accountId: invoice.accountId,
          invoiceId: invoice.id,
          actor: input.actor,
          nowMs: input.nowMs,
        })
      : 0n;
    return {
      invoiceId: invoice.id,
      accountId: invoice.accountId,
      from: invoice.status,
      changed: outcome.changed,
      creditsRestoredMinor: restored,
    };
  });
}
