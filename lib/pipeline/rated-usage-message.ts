/**
 * The rated-usage queue's message: what an account meter's outbox sends and the consumer lands
 * in ClickHouse and Postgres. Versioned: a consumer refuses (dead-letters) versions it does not
 * know. Money and quantities are decimal text, never JSON numbers.
 */
export const RATED_USAGE_MESSAGE_VERSION = 1;

/**
 * The change one outbox flush made to one meter's quantity and rated amount within one billing
 * period, pricing segment and local day. Deltas are signed: volume tiers can lower an amount.
 */
export interface RatedRecord {
  /** Deterministic: `<accountId>:<outbox seq>:<n>`; recomputation yields the same id. */
  recordId: string;
  meter: string;
  periodStartMs: number;
  periodEndMs: number;
  /** The plan version that priced it, or "unpriced" when the account had no plan then. */
  segment: string;
  planId: string | null;
  /** Local calendar date (account time zone) the change belongs to, `YYYY-MM-DD`. */
  day: string;
  quantityDelta: string;
  amountDelta: string;
  currency: string;
  /** Events that contributed (for non-additive aggregations, all events seen in the batch). */
  eventCount: number;
  /** The segment's quantity and amount after this change, for drift checks. */
  quantityTotal: string;
  amountTotal: string;
}

/** One accepted raw event, for the ClickHouse audit trail. */
export interface RawEventRecord {
  id: string;
  meter: string;
  value: string | null;
  timeMs: number;
  receivedMs: number;
  periodStartMs: number;
  properties: Record<string, string>;
}

/** What one outbox row holds: one ingest call's records and raw events. */
export interface OutboxPayload {
  seq: number;
  createdMs: number;
  records: RatedRecord[];
  events: RawEventRecord[];
}

export interface RatedUsageMessage {
  v: typeof RATED_USAGE_MESSAGE_VERSION;
  kind: "rated_usage";
  /** Deterministic per outbox rows: `<accountId>:<first seq>`; the sinks' idempotency key. */
  batchId: string;
  accountId: string;
  sentMs: number;
  records: RatedRecord[];
  events: RawEventRecord[];
}
