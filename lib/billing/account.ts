import type { Queryable } from "../adapters/postgres.ts";
import type { CollectionMethod } from "../catalogue/account-config.ts";
import type { IntervalSpec } from "../periods/interval-spec.ts";
import type { Period } from "../periods/period.ts";
import { PeriodCalendar } from "../periods/period-calendar.ts";
import type { TaxRate } from "./tax.ts";

/** What invoicing needs to know about an account (the catalogue owns these fields). */
export interface BillingAccount {
  id: string;
  name: string;
  email: string | null;
  currency: string;
  timeZone: string;
  billingInterval: IntervalSpec;
  collectionMethod: CollectionMethod;
  netTermsDays: number;
  poNumber: string | null;
  taxRates: TaxRate[];
  notificationUrl: string | null;
  createdAtMs: number;
  /** Whether the account ever had credit granted (its meter then holds a credit projection). */
  hasCredit: boolean;
  /** The first period not closed yet, or null before the first invoice run saw the account. */
  nextPeriod: Period | null;
}

interface AccountRow {
  id: string;
  name: string;
  email: string | null;
  currency: string;
  time_zone: string;
  billing_interval: IntervalSpec;
  collection_method: CollectionMethod;
  net_terms_days: number;
  po_number: string | null;
  tax_rates: TaxRate[] | null;
  notification_url: string | null;
  created_at: Date;
  has_credit: boolean;
  next_period_start: Date | null;
  next_period_end: Date | null;
}

/** Reads an account's billing facts and invoicing cursor; null when it does not exist. */
export async function loadBillingAccount(
  db: Queryable,
  accountId: string,
): Promise<BillingAccount | null> {
  const { rows } = await db.query<AccountRow>(
    `select a.id, a.name, a.email, a.currency, a.time_zone, a.billing_interval,
            a.collection_method, a.net_terms_days, a.po_number, a.tax_rates, a.notification_url,
            a.created_at, b.next_period_start, b.next_period_end,
            exists (select 1 from credit_grants g where g.account_id = a.id) as has_credit
       from accounts a left join account_billing b on b.account_id = a.id
      where a.id = $1`,
    [accountId],
  );
  const row = rows[0];
  if (!row) {
    return null;
  }
  return {
    id: row.id,
    name: row.name,
    email: row.email,
    currency: row.currency.trim(),
    timeZone: row.time_zone,
    billingInterval: row.billing_interval,
    collectionMethod: row.collection_method,
    netTermsDays: row.net_terms_days,
    poNumber: row.po_number,
    taxRates: row.tax_rates ?? [],
    notificationUrl: row.notification_url,
    createdAtMs: row.created_at.getTime(),
    hasCredit: row.has_credit,
    nextPeriod:
      row.next_period_start && row.next_period_end
        ? { startMs: row.next_period_start.getTime(), endMs: row.next_period_end.getTime() }
        : null,
  };
}

/** The account's billing calendar (its interval in its zone). */
export function calendarOf(account: Pick<BillingAccount, "billingInterval" | "timeZone">) {
  return new PeriodCalendar(account.billingInterval, account.timeZone);
}

/**
 * Moves the account's cursor from `period` to the one after it, in the caller's transaction.
 * Conditional on the cursor still being at `period`, so a repeated close never skips a period.
 * Returns whether it moved.
 */
export async function advanceCursor(
  tx: Queryable,
  accountId: string,
  period: Period,
  next: Period,
  nowMs: number,
): Promise<boolean> {
  const { rowCount } = await tx.query(
    `update account_billing set next_period_start = $3, next_period_end = $4, updated_at = $5
      where account_id = $1 and next_period_start = $2`,
    [
      accountId,
      new Date(period.startMs).toISOString(),
      new Date(next.startMs).toISOString(),
      new Date(next.endMs).toISOString(),
      new Date(nowMs).toISOString(),
    ],
  );
  return rowCount > 0;
}
