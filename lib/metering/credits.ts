import { type CreditSnapshot, consumptionOrder } from "../billing/credits.ts";
import { getCurrency } from "../money/currency.ts";
import { Decimal } from "../money/decimal.ts";
import type { Span } from "./meter-context.ts";
import type { Sql } from "./sql.ts";

/**
 * The account meter's prepaid-credit projection. Postgres holds the credit ledger (the truth);
 * the meter holds a copy of the usable grants as of the last invoice or grant change
 * (`credit_grants`, pushed by syncCredits) and draws them down in real time as usage is rated:
 * `credit_drawdown` allocates the rated spend of every period not invoiced yet to the grants, in
 * the same consumption order invoices use. Invoicing reconciles it: the finalized invoice
 * consumes the ledger, and the next snapshot replaces the copy and moves `reconciled_ms` past
 * the invoiced period. The projection is pre-tax and leaves out base fees and commitments, which
 * only exist on the invoice.
 */
// Its tables (credit_grants, credit_drawdown) are part of the meter schema (schema.ts).

function meta(sql: Sql, key: string): string | null {
  return (
    sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0]?.value ??
    null
  );
}

function setMeta(sql: Sql, key: string, value: string): void {
  sql.exec(
    "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    key,
    value,
  );
}

interface GrantRow {
  grant_id: string;
  remaining: string;
  priority: number;
  effective_ms: number;
  expires_ms: number | null;
  created_ms: number;
  [key: string]: string | number | null;
}

function grantsInOrder(sql: Sql): GrantRow[] {
  return sql
    .exec<GrantRow>(
      "SELECT grant_id, remaining, priority, effective_ms, expires_ms, created_ms FROM credit_grants",
    )
    .toArray()
    .sort((a, b) =>
      consumptionOrder(
        {
          id: a.grant_id,
          priority: a.priority,
          expiresAtMs: a.expires_ms,
          createdAtMs: a.created_ms,
          remainingMinor: 0n,
        },
        {
          id: b.grant_id,
          priority: b.priority,
          expiresAtMs: b.expires_ms,
          createdAtMs: b.created_ms,
          remainingMinor: 0n,
        },
      ),
    );
}

/**
 * Re-allocates the rated spend of every period not invoiced yet to the grants, oldest period
 * first, each grant usable for a period it overlaps (effective before the period ends, not
 * expired before it starts). Must run inside the ingest transaction when usage was rated, so the
 * balance is exact at every moment. A no-op (one query) for an account with no grants.
 */
export function drawDownCredits(sql: Sql, periodContaining: (ms: number) => Span): void {
  const grants = grantsInOrder(sql);
  if (grants.length === 0) {
    // No grants, no drawdown rows: applyCreditSnapshot clears them when grants go away.
    return;
  }
  sql.exec("DELETE FROM credit_drawdown");
  const reconciled = Number(meta(sql, "credits_reconciled_ms") ?? Number.NEGATIVE_INFINITY);
  const available = new Map(grants.map((g) => [g.grant_id, Decimal.from(g.remaining)]));
  const periods = sql
    .exec<{ period_start: number; amount: string }>(
      "SELECT period_start, amount FROM spend WHERE period_start >= ? ORDER BY period_start",
      Number.isFinite(reconciled) ? reconciled : Number.MIN_SAFE_INTEGER,
    )
    .toArray();
  for (const period of periods) {
    let owed = Decimal.from(period.amount);
    if (!owed.isPositive()) {
      continue;
    }
    const endMs = periodContaining(period.period_start).endMs;
    for (const grant of grants) {
      const usable =
        grant.effective_ms < endMs &&
        (grant.expires_ms === null || grant.expires_ms > period.period_start);
      const left = available.get(grant.grant_id) ?? Decimal.ZERO;
      if (!usable || !left.isPositive()) {
        continue;
      }
      const take = owed.min(left);
      available.set(grant.grant_id, left.sub(take));
      sql.exec(
        "INSERT INTO credit_drawdown (period_start, grant_id, amount) VALUES (?, ?, ?)",
        period.period_start,
        grant.grant_id,
        take.toString(),
      );
      owed = owed.sub(take);
      if (!owed.isPositive()) {
        break;
      }
    }
  }
}

/**
 * Replaces the grant copy with a Postgres snapshot and re-allocates, in one transaction (the
 * caller's). A snapshot older than the one held (lower ledger version) is ignored, so pushes
 * arriving out of order never roll the projection back. Returns whether it was applied.
 */
export function applyCreditSnapshot(
  sql: Sql,
  snapshot: CreditSnapshot,
  periodContaining: (ms: number) => Span,
): boolean {
  const held = Number(meta(sql, "credits_version") ?? -1);
  if (snapshot.version < held) {
    return false;
  }
  const { exponent } = getCurrency(snapshot.currency);
  sql.exec("DELETE FROM credit_grants");
  sql.exec("DELETE FROM credit_drawdown");
  for (const grant of snapshot.grants) {
    sql.exec(
      `INSERT INTO credit_grants (grant_id, remaining, priority, effective_ms, expires_ms, created_ms)
       VALUES (?, ?, ?, ?, ?, ?)`,
      grant.id,
      Decimal.fromParts(BigInt(grant.remainingMinor), exponent).toString(),
      grant.priority,
      grant.effectiveAtMs,
      grant.expiresAtMs,
      grant.createdAtMs,
    );
  }
  setMeta(sql, "credits_version", String(snapshot.version));
  setMeta(sql, "credits_currency", snapshot.currency);
  if (snapshot.reconciledThroughMs !== null) {
    setMeta(sql, "credits_reconciled_ms", String(snapshot.reconciledThroughMs));
  }
  drawDownCredits(sql, periodContaining);
  return true;
}

/** The prepaid balance as the usage API shows it. Decimal text in the account currency. */
export interface CreditBalance {
  currency: string | null;
  /** Σ grants as of the last reconciliation. */
  granted: string;
  /** Rated spend of periods not invoiced yet that the grants cover. */
  drawn: string;
  /** granted − drawn: what is left for further usage right now. */
  balance: string;
  grants: { id: string; remaining: string; drawn: string; expiresAtMs: number | null }[];
}

/** Reads the projection: grants held, what current usage has drawn, and the balance left. */
export function readCredits(sql: Sql): CreditBalance {
  const grants = grantsInOrder(sql);
  const drawn = new Map<string, Decimal>();
  for (const row of sql.exec<{ grant_id: string; amount: string }>(
    "SELECT grant_id, amount FROM credit_drawdown",
  )) {
    drawn.set(
      row.grant_id,
      (drawn.get(row.grant_id) ?? Decimal.ZERO).add(Decimal.from(row.amount)),
    );
  }
  const granted = Decimal.sum(grants.map((g) => Decimal.from(g.remaining)));
  const totalDrawn = Decimal.sum(drawn.values());
  return {
    currency: meta(sql, "credits_currency"),
    granted: granted.toString(),
    drawn: totalDrawn.toString(),
    balance: granted.sub(totalDrawn).toString(),
    grants: grants.map((g) => ({
      id: g.grant_id,
      remaining: g.remaining,
      drawn: (drawn.get(g.grant_id) ?? Decimal.ZERO).toString(),
      expiresAtMs: g.expires_ms,
    })),
  };
}
