import type { Queryable } from "../adapters/postgres.ts";

/**
 * One payment operation per invoice at a time, across every isolate and process: a Postgres
 * transaction-level advisory lock keyed by the invoice id, released when that transaction ends
 * (commit, rollback or a dropped connection). Never an in-memory lock.
 *
 * Lock order: take it first in a transaction, before any row lock, so a holder that waits on a
 * row can never wait on someone who waits on this lock.
 */

/** Advisory locks live in one space per database; this namespace keeps ours apart. */
const LOCK_SQL_KEY = "hashtext('meterline:payments'), hashtext($1)";

/** Takes the invoice's lock in `tx` if it is free; false when another operation holds it. */
export async function tryLockInvoice(tx: Queryable, invoiceId: string): Promise<boolean> {
  const { rows } = await tx.query<{ locked: boolean }>(
    `select pg_try_advisory_xact_lock(${LOCK_SQL_KEY}) as locked`,
    [invoiceId],
  );
  return rows[0]?.locked === true;
}

/**
 * Waits for the invoice's lock in `tx`, at most `timeoutMs` (then Postgres raises 55P03
 * lock_not_available and the caller's work is retried later).
 */
export async function lockInvoice(
  tx: Queryable,
  invoiceId: string,
  timeoutMs: number,
): Promise<void> {
  await tx.query("select set_config('lock_timeout', $1, true)", [`${Math.max(1, timeoutMs)}ms`]);
  await tx.query(`select pg_advisory_xact_lock(${LOCK_SQL_KEY})`, [invoiceId]);
}
