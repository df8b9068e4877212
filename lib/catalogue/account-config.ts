import type { Database, Queryable } from "../adapters/postgres.ts";
import type { IntervalSpec } from "../periods/interval-spec.ts";
import type { Aggregation, MeterDefinition } from "./meter.ts";

/**
 * One stretch of time during which one plan version prices the account's usage:
 * `[fromMs, toMs)`, `toMs` null when open-ended. Usage is rated in segments, one per window.
 */
export interface PricingWindow {
  fromMs: number;
  toMs: number | null;
  planId: string;
  planVersionId: string;
  version: number;
  currency: string;
  /** Decimal text, per billing period. */
  baseFee: string;
  /** Price specs by meter key, as stored (JSON); compiled by the pricing engine. */
  prices: Record<string, unknown>;
}

export type CollectionMethod = "charge_automatically" | "send_invoice";

/** Everything an account meter needs to count and rate one account's usage. */
export interface AccountConfig {
  accountId: string;
  /** `<account revision>:<meters revision>`; equal strings mean nothing changed. */
  revision: string;
  name: string;
  currency: string;
  timeZone: string;
  billingInterval: IntervalSpec;
  collectionMethod: CollectionMethod;
  meters: MeterDefinition[];
  pricing: PricingWindow[];
  spend: { budget: string | null; alertPercents: number[]; hardCap: boolean };
}

interface AccountRow {
  id: string;
  name: string;
  currency: string;
  time_zone: string;
  billing_interval: IntervalSpec;
  collection_method: CollectionMethod;
  spend_budget: string | null;
  spend_alert_percents: number[];
  spend_hard_cap: boolean;
  config_revision: string;
  meters_revision: string;
}

interface MeterRow {
  key: string;
  name: string;
  aggregation: Aggregation;
  unit: string;
  value_property: string | null;
  series_property: string | null;
  heartbeat_timeout_seconds: number | null;
  allow_negative: boolean;
  group_by: string[];
}

interface WindowRow {
  plan_id: string;
  assigned_from: Date;
  assigned_to: Date | null;
  plan_version_id: string;
  version: number;
  version_from: Date;
  version_to: Date | null;
  currency: string;
  base_fee: string;
  prices: Record<string, unknown>;
}

/** Reads the revision pair only: the cheap check a meter runs to see whether to reload. */
export async function readConfigRevision(db: Queryable, accountId: string): Promise<string | null> {
  const { rows } = await db.query<{ config_revision: string; meters_revision: string }>(
    `select a.config_revision::text, c.meters_revision::text
       from accounts a cross join catalogue_state c where a.id = $1`,
    [accountId],
  );
  const row = rows[0];
  return row ? `${row.config_revision}:${row.meters_revision}` : null;
}

function toMeter(row: MeterRow): MeterDefinition {
  return {
    key: row.key,
    name: row.name,
    aggregation: row.aggregation,
    unit: row.unit,
    valueProperty: row.value_property,
    seriesProperty: row.series_property,
    heartbeatTimeoutSeconds: row.heartbeat_timeout_seconds,
    allowNegative: row.allow_negative,
    groupBy: row.group_by ?? [],
  };
}

/**
 * Intersects the account's plan assignments with each plan's versions into pricing windows,
 * ordered by time. Returns an empty list for an account with no plan (usage counted, unpriced).
 */
function toWindows(rows: WindowRow[]): PricingWindow[] {
  const windows: PricingWindow[] = [];
  for (const row of rows) {
    const fromMs = Math.max(row.assigned_from.getTime(), row.version_from.getTime());
    const ends = [row.assigned_to, row.version_to]
      .filter((d): d is Date => d !== null)
      .map((d) => d.getTime());
    const toMs = ends.length > 0 ? Math.min(...ends) : null;
    if (toMs !== null && toMs <= fromMs) {
      continue;
    }
    windows.push({
      fromMs,
      toMs,
      planId: row.plan_id,
      planVersionId: row.plan_version_id,
      version: row.version,
      currency: row.currency.trim(),
      baseFee: row.base_fee,
      prices: row.prices,
    });
  }
  return windows.sort((a, b) => a.fromMs - b.fromMs);
}

/**
 * Loads an account's full configuration in one snapshot (repeatable read), or null when the
 * account does not exist. Pricing windows cover every plan assignment and version.
 */
export async function loadAccountConfig(
  db: Queryable,
  accountId: string,
): Promise<AccountConfig | null> {
  const accounts = await db.query<AccountRow>(
    `select a.id, a.name, a.currency, a.time_zone, a.billing_interval, a.collection_method,
            a.spend_budget::text as spend_budget, a.spend_alert_percents, a.spend_hard_cap,
            a.config_revision::text as config_revision, c.meters_revision::text as meters_revision
       from accounts a cross join catalogue_state c
      where a.id = $1`,
    [accountId],
  );
  const account = accounts.rows[0];
  if (!account) {
    return null;
  }
  const meters = await db.query<MeterRow>(
    `select key, name, aggregation, unit, value_property, series_property,
            heartbeat_timeout_seconds, allow_negative, group_by
       from meters order by key`,
  );
  const windows = await db.query<WindowRow>(
    `with assignments as (
       select plan_id, effective_from as assigned_from,
              lead(effective_from) over (order by effective_from) as assigned_to
         from account_plans where account_id = $1
     ), versions as (
       select id, plan_id, version, effective_from as version_from,
              lead(effective_from) over (partition by plan_id order by effective_from) as version_to,
              currency, base_fee::text as base_fee, prices
         from plan_versions
        where plan_id in (select plan_id from assignments)
     )
     select a.plan_id, a.assigned_from, a.assigned_to, v.id as plan_version_id, v.version,
            v.version_from, v.version_to, v.currency, v.base_fee, v.prices
       from assignments a join versions v on v.plan_id = a.plan_id
      where (a.assigned_to is null or v.version_from < a.assigned_to)
        and (v.version_to is null or v.version_to > a.assigned_from)
      order by greatest(a.assigned_from, v.version_from)`,
    [accountId],
  );
  return {
    accountId: account.id,
    revision: `${account.config_revision}:${account.meters_revision}`,
    name: account.name,
    currency: account.currency.trim(),
    timeZone: account.time_zone,
    billingInterval: account.billing_interval,
    collectionMethod: account.collection_method,
    meters: meters.rows.map(toMeter),
    pricing: toWindows(windows.rows),
    spend: {
      budget: account.spend_budget,
      alertPercents: account.spend_alert_percents ?? [],
      hardCap: account.spend_hard_cap,
    },
  };
}

/**
 * `loadAccountConfig` in its own read-only REPEATABLE READ transaction, so the account, the
 * meters and the pricing windows come from one snapshot. Null when the account does not exist;
 * throws DEPENDENCY_UNAVAILABLE when Postgres cannot be reached.
 */
export async function loadAccountConfigSnapshot(
  db: Database,
  accountId: string,
): Promise<AccountConfig | null> {
  return db.transaction(async (tx) => {
    await tx.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY");
    return loadAccountConfig(tx, accountId);
  });
}
