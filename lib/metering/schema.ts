import type { Sql } from "./sql.ts";

/**
 * The account meter's SQLite schema. Each statement is idempotent; `SCHEMA_VERSION` is stored
 * so later versions can migrate in place. Tables:
 * - meta: key/value facts (cached account config, schema version).
 * - api_keys: hashes of the account's API keys (the meter authenticates its own account).
 * - seen_events: every accepted event id with a payload fingerprint, for dedup and conflicts.
 * - periods: billing periods the meter has seen, and whether each is sealed (invoiced).
 * - totals: the quantity and rated amount per meter, period and pricing segment.
 * - unique_values: distinct values per meter, period and segment (unique_count meters).
 * - dimension_totals: per-property-value quantities for breakdowns (meters' groupBy).
 * - minute_buckets: per-minute quantities for charts.
 * - series: open time-weighted series (level, last sample, dimensions).
 * - spend: rated spend per period and the budget alerts already raised.
 * - outbox: rated records and raw events waiting to go to the rated-usage queue.
 * - notifications: messages for the platform waiting to go out through QStash.
 * - credit_grants, credit_drawdown: the prepaid-credit projection (credits.ts).
 */
export const SCHEMA_VERSION = 3;

const STATEMENTS = [
  "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
  `CREATE TABLE IF NOT EXISTS api_keys (
     key_id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, created_ms INTEGER NOT NULL,
     revoked_ms INTEGER)`,
  `CREATE TABLE IF NOT EXISTS seen_events (
     event_id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, time_ms INTEGER NOT NULL) WITHOUT ROWID`,
  "CREATE INDEX IF NOT EXISTS seen_events_time ON seen_events (time_ms)",
  `CREATE TABLE IF NOT EXISTS periods (
     start_ms INTEGER PRIMARY KEY, end_ms INTEGER NOT NULL, sealed_ms INTEGER)`,
  `CREATE TABLE IF NOT EXISTS totals (
     meter TEXT NOT NULL, period_start INTEGER NOT NULL, segment TEXT NOT NULL,
     quantity TEXT NOT NULL, amount TEXT NOT NULL, events INTEGER NOT NULL,
     latest_ms INTEGER, latest_id TEXT,
     PRIMARY KEY (meter, period_start, segment)) WITHOUT ROWID`,
  `CREATE TABLE IF NOT EXISTS unique_values (
     meter TEXT NOT NULL, period_start INTEGER NOT NULL, segment TEXT NOT NULL, value TEXT NOT NULL,
     PRIMARY KEY (meter, period_start, segment, value)) WITHOUT ROWID`,
  `CREATE TABLE IF NOT EXISTS dimension_totals (
     meter TEXT NOT NULL, period_start INTEGER NOT NULL, dimension TEXT NOT NULL,
     dim_value TEXT NOT NULL, quantity TEXT NOT NULL, events INTEGER NOT NULL,
     latest_ms INTEGER,
     PRIMARY KEY (meter, period_start, dimension, dim_value)) WITHOUT ROWID`,
  `CREATE TABLE IF NOT EXISTS minute_buckets (
     meter TEXT NOT NULL, minute_ms INTEGER NOT NULL, quantity TEXT NOT NULL,
     events INTEGER NOT NULL, latest_ms INTEGER,
     PRIMARY KEY (meter, minute_ms)) WITHOUT ROWID`,
  `CREATE TABLE IF NOT EXISTS series (
     meter TEXT NOT NULL, series TEXT NOT NULL, level TEXT NOT NULL, last_ms INTEGER NOT NULL,
     dims TEXT NOT NULL, open INTEGER NOT NULL,
     PRIMARY KEY (meter, series)) WITHOUT ROWID`,
  `CREATE TABLE IF NOT EXISTS spend (
     period_start INTEGER PRIMARY KEY, amount TEXT NOT NULL, alerted TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS outbox (
     seq INTEGER PRIMARY KEY AUTOINCREMENT, created_ms INTEGER NOT NULL, payload TEXT NOT NULL,
     bytes INTEGER NOT NULL, batch_id TEXT, sent_ms INTEGER, send_count INTEGER NOT NULL DEFAULT 0)`,
  "CREATE INDEX IF NOT EXISTS outbox_batch ON outbox (batch_id)",
  "CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (seq) WHERE sent_ms IS NULL",
  "CREATE INDEX IF NOT EXISTS outbox_sent ON outbox (sent_ms) WHERE sent_ms IS NOT NULL",
  `CREATE TABLE IF NOT EXISTS credit_grants (
     grant_id TEXT PRIMARY KEY, remaining TEXT NOT NULL, priority INTEGER NOT NULL,
     effective_ms INTEGER NOT NULL, expires_ms INTEGER, created_ms INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS credit_drawdown (
     period_start INTEGER NOT NULL, grant_id TEXT NOT NULL, amount TEXT NOT NULL,
     PRIMARY KEY (period_start, grant_id)) WITHOUT ROWID`,
  `CREATE TABLE IF NOT EXISTS notifications (
     id TEXT PRIMARY KEY, created_ms INTEGER NOT NULL, kind TEXT NOT NULL, payload TEXT NOT NULL)`,
];

/**
 * Changes that bring a meter created at version `from` to `from + 1`; tables created fresh
 * already have their final shape, so each step tolerates a column that exists.
 */
const UPGRADES: Record<number, string[]> = {
  // v2: outbox rows stay until the sinks confirm them (resent when unconfirmed). v3 only adds
  // indexes and the credit tables, which the CREATE statements make.
  1: [
    "ALTER TABLE outbox ADD COLUMN sent_ms INTEGER",
    "ALTER TABLE outbox ADD COLUMN send_count INTEGER NOT NULL DEFAULT 0",
  ],
};

function columnExists(sql: Sql, table: string, column: string): boolean {
  return sql
    .exec<{ name: string }>(`SELECT name FROM pragma_table_info('${table}')`)
    .toArray()
    .some((row) => row.name === column);
}

/**
 * Creates or upgrades the schema. A meter is constructed whenever it wakes, so the current case
 * costs one lookup: the statements run only when the stored version differs.
 */
export function migrateMeterSchema(sql: Sql): void {
  const hasMeta =
    sql
      .exec<{ n: number }>(
        "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
      )
      .one().n > 0;
  let stored: number | null = null;
  if (hasMeta) {
    const row = sql
      .exec<{ value: string }>("SELECT value FROM meta WHERE key = 'schema_version'")
      .toArray()[0];
    stored = row ? Number(row.value) : null;
    if (stored === SCHEMA_VERSION) {
      return;
    }
  }
  // Upgrades first: statements below may index columns an old table is still missing.
  for (let version = stored ?? SCHEMA_VERSION; version < SCHEMA_VERSION; version += 1) {
    for (const statement of UPGRADES[version] ?? []) {
      const column = /ADD COLUMN (\w+)/.exec(statement)?.[1];
      const table = /ALTER TABLE (\w+)/.exec(statement)?.[1];
      if (column && table && columnExists(sql, table, column)) {
        continue;
      }
      sql.exec(statement);
    }
  }
  for (const statement of STATEMENTS) {
    sql.exec(statement);
  }
  sql.exec(
    "INSERT INTO meta (key, value) VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    String(SCHEMA_VERSION),
  );
}
