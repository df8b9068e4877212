/**
 * Write-through copies of the account meter's hottest rows, so a batch reads what it is about to
 * update from memory instead of SQLite. SQLite stays the truth: every change is still written in
 * the batch's transaction, and the meter clears the whole cache whenever a transaction fails or
 * another path rewrites these tables (sealing, pruning), so a stale copy can never be read.
 * Lifetime: one meter instance (it starts empty whenever the object wakes).
 */
export interface TotalsRow {
  quantity: string;
  amount: string;
  events: number;
  latestMs: number | null;
  latestId: string | null;
}

export interface BucketRow {
  quantity: string;
  events: number;
  latestMs: number | null;
}

export interface SpendRow {
  amount: string;
  alerted: string;
}

/** Entries kept per map before it is dropped wholesale (a cheap bound; it refills on demand). */
const MAX_ENTRIES = 20_000;

export class MeterCache {
  /** Every billing period the meter knows, with its end and whether it is sealed; null = unread. */
  periods: Map<number, { endMs: number; sealed: boolean }> | null = null;
  /** By `meter\0period\0segment`; null records a known-absent row. */
  readonly totals = new Map<string, TotalsRow | null>();
  /** By `meter\0minute`. */
  readonly buckets = new Map<string, BucketRow | null>();
  /** By period start. */
  readonly spend = new Map<number, SpendRow | null>();

  /** Forgets everything (after a failed transaction, or when another path rewrote tables). */
  clear(): void {
    this.periods = null;
    this.totals.clear();
    this.buckets.clear();
    this.spend.clear();
  }

  /** Keeps the maps bounded; called once per batch. */
  trim(): void {
    for (const map of [this.totals, this.buckets, this.spend] as Map<unknown, unknown>[]) {
      if (map.size > MAX_ENTRIES) {
        map.clear();
      }
    }
  }
}
