import type { Queryable } from "../adapters/postgres.ts";
import { Decimal } from "../money/decimal.ts";
import type { RatedUsageMessage } from "../pipeline/rated-usage-message.ts";

/** What one ledger transaction did. */
export interface LedgerApplyResult {
  /** Batch ids recorded by this call (the others were already in the ledger). */
  applied: string[];
  /** Batch ids that were already recorded: their records changed nothing. */
  duplicates: string[];
  /** Rated records applied, and rollup rows inserted or updated. */
  records: number;
  rollupRows: number;
}

interface RollupChange {
  accountId: string;
  meter: string;
  periodStartMs: number;
  periodEndMs: number;
  segment: string;
  day: string;
  planId: string | null;
  currency: string;
  quantity: Decimal;
  amount: Decimal;
  events: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Code-unit order, the same in every runtime (unlike localeCompare). */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Sums the records of `messages` per rollup key (account, meter, period, segment, day), in key
 * order. One upsert statement may touch a row only once, and a fixed order makes concurrent
 * consumers lock shared rows in the same order (no deadlocks between them).
 */
export function rollupChanges(messages: readonly RatedUsageMessage[]): RollupChange[] {
  const changes = new Map<string, RollupChange>();
  for (const message of messages) {
    for (const r of message.records) {
      const key = [message.accountId, r.meter, r.periodStartMs, r.segment, r.day].join("\u0000");
      const change = changes.get(key);
      if (change) {
        change.quantity = change.quantity.add(Decimal.from(r.quantityDelta));
        change.amount = change.amount.add(Decimal.from(r.amountDelta));
        change.events += r.eventCount;
      } else {
        changes.set(key, {
          accountId: message.accountId,
          meter: r.meter,
          periodStartMs: r.periodStartMs,
          periodEndMs: r.periodEndMs,
          segment: r.segment,
          day: r.day,
          planId: r.planId,
          currency: r.currency,
          quantity: Decimal.from(r.quantityDelta),
          amount: Decimal.from(r.amountDelta),
          events: r.eventCount,
        });
      }
    }
  }
  return [...changes.entries()].sort((a, b) => compareText(a[0], b[0])).map(([, change]) => change);
}

/**
 * Records rated batches in the ledger, inside the caller's transaction: inserts each batch id
 * (unique) and applies the records of exactly those batches whose id this call inserted to
 * `usage_rollups`, adding signed quantity, amount and event-count deltas with full precision.
 * A batch already recorded changes nothing, so redeliveries, replays and regroupings are no-ops.
 * Messages must be distinct by batch id. Throws the database error; the caller's transaction
 * then rolls back and nothing of the call remains.
 */
export async function applyRatedBatches(
  tx: Queryable,
  messages: readonly RatedUsageMessage[],
  receivedAtMs: number,
): Promise<LedgerApplyResult> {
  const ordered = [...messages].sort((a, b) => compareText(a.batchId, b.batchId));
  if (ordered.length === 0) {
    return { applied: [], duplicates: [], records: 0, rollupRows: 0 };
  }
  const inserted = await tx.query<{ batch_id: string }>(
    `insert into rated_batches (batch_id, account_id, records, events, sent_at, received_at)
     select b.batch_id, b.account_id, b.records, b.events, b.sent_at, $6::timestamptz
     from unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::timestamptz[])
       as b(batch_id, account_id, records, events, sent_at)
     on conflict (batch_id) do nothing
     returning batch_id`,
    [
      ordered.map((m) => m.batchId),
      ordered.map((m) => m.accountId),
      ordered.map((m) => m.records.length),
      ordered.map((m) => m.events.length),
      ordered.map((m) => iso(m.sentMs)),
      iso(receivedAtMs),
    ],
  );
  const fresh = new Set(inserted.rows.map((row) => row.batch_id));
  const applied = ordered.filter((m) => fresh.has(m.batchId));
  const changes = rollupChanges(applied);
  if (changes.length > 0) {
    await tx.query(
      `insert into usage_rollups (account_id, meter, period_start, period_end, segment, day,
                                  plan_id, currency, quantity, amount, event_count, updated_at)
       select c.account_id, c.meter, c.period_start, c.period_end, c.segment, c.day,
              c.plan_id, c.currency, c.quantity, c.amount, c.event_count, $12::timestamptz
       from unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::text[],
                   $6::date[], $7::text[], $8::text[], $9::numeric[], $10::numeric[],
                   $11::bigint[])
         as c(account_id, meter, period_start, period_end, segment, day, plan_id, currency,
              quantity, amount, event_count)
       on conflict (account_id, meter, period_start, segment, day) do update set
         quantity = usage_rollups.quantity + excluded.quantity,
         amount = usage_rollups.amount + excluded.amount,
         event_count = usage_rollups.event_count + excluded.event_count,
         updated_at = excluded.updated_at`,
      [
        changes.map((c) => c.accountId),
        changes.map((c) => c.meter),
        changes.map((c) => iso(c.periodStartMs)),
        changes.map((c) => iso(c.periodEndMs)),
        changes.map((c) => c.segment),
        changes.map((c) => c.day),
        changes.map((c) => c.planId),
        changes.map((c) => c.currency),
        changes.map((c) => c.quantity.toString()),
        changes.map((c) => c.amount.toString()),
        changes.map((c) => c.events),
        iso(receivedAtMs),
      ],
    );
  }
  return {
    applied: applied.map((m) => m.batchId),
    duplicates: ordered.filter((m) => !fresh.has(m.batchId)).map((m) => m.batchId),
    records: applied.reduce((n, m) => n + m.records.length, 0),
    rollupRows: changes.length,
  };
}

/** A period's ledger totals for one meter (all segments and days). */
export interface LedgerTotals {
  meter: string;
  quantity: string;
  amount: string;
  events: number;
}

/**
 * The ledger's totals for one account and period, per meter, summed over segments and days.
 * Decimal text as Postgres prints `numeric` (trailing zeros possible; compare as decimals).
 */
export async function readLedgerTotals(
  db: Queryable,
  accountId: string,
  periodStartMs: number,
): Promise<LedgerTotals[]> {
  const result = await db.query<{
    meter: string;
    quantity: string;
    amount: string;
    events: string;
  }>(
    `select meter, sum(quantity)::text as quantity, sum(amount)::text as amount,
            sum(event_count)::text as events
     from usage_rollups where account_id = $1 and period_start = $2
     group by meter order by meter`,
    [accountId, iso(periodStartMs)],
  );
  return result.rows.map((row) => ({
    meter: row.meter,
    quantity: row.quantity,
    amount: row.amount,
    events: Number(row.events),
  }));
}

/** Period starts (epoch ms) the ledger holds rollups for, for one account, newest first. */
export async function ledgerPeriods(
  db: Queryable,
  accountId: string,
  limit: number,
): Promise<number[]> {
  const result = await db.query<{ ms: string }>(
    `select (extract(epoch from period_start) * 1000)::bigint::text as ms
     from usage_rollups where account_id = $1
     group by period_start order by period_start desc limit $2`,
    [accountId, limit],
  );
  return result.rows.map((row) => Number(row.ms));
}
