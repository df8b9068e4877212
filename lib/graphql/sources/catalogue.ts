import type { Queryable } from "../../adapters/postgres.ts";
import type { CollectionMethod } from "../../catalogue/account-config.ts";
import type { AccountResource } from "../../catalogue/accounts.ts";
import type { Aggregation } from "../../catalogue/meter.ts";
import type { MeterResource } from "../../catalogue/meters.ts";
import type { PlanResource, PlanVersionResource } from "../../catalogue/plans.ts";
import { Decimal } from "../../money/decimal.ts";
import type { IntervalSpec } from "../../periods/interval-spec.ts";
import type { PriceInput } from "../../pricing/types.ts";

// Batch reads of catalogue records by many ids at once, for the GraphQL loaders. They return the
// same resource shapes lib/catalogue's own reads return (one query per table, whatever the
// number of ids), so a list of N invoices resolving their accounts costs two queries, not 2N.

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
  stripe_customer_id: string | null;
  notification_url: string | null;
  spend_budget: string | null;
  spend_alert_percents: number[] | null;
  spend_hard_cap: boolean;
  config_revision: string;
  created_at: Date;
  updated_at: Date;
}

interface AssignmentRow {
  account_id: string;
  plan_id: string;
  effective_from: Date;
}

/**
 * Accounts by id with their plan schedules, in two queries. Ids with no account are absent
 * from the answer. `planId` is the assignment in effect at `nowMs`. Throws the database error.
 */
export async function readAccounts(
  db: Queryable,
  ids: readonly string[],
  nowMs: number,
): Promise<AccountResource[]> {
  const [accounts, assignments] = await Promise.all([
    db.query<AccountRow>(
      `select id, name, email, currency, time_zone, billing_interval, collection_method,
              net_terms_days, po_number, stripe_customer_id, notification_url,
              spend_budget::text as spend_budget, spend_alert_percents, spend_hard_cap,
              config_revision::text as config_revision, created_at, updated_at
         from accounts where id = any($1::text[])`,
      [ids],
    ),
    db.query<AssignmentRow>(
      `select account_id, plan_id, effective_from from account_plans
        where account_id = any($1::text[]) order by account_id, effective_from`,
      [ids],
    ),
  ]);
  return accounts.rows.map((row) => {
    const schedule = assignments.rows.filter((a) => a.account_id === row.id);
    const inEffect = schedule.filter((a) => a.effective_from.getTime() <= nowMs).at(-1);
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
      stripeCustomerId: row.stripe_customer_id,
      notificationUrl: row.notification_url,
      spend: {
        budget:
          row.spend_budget === null ? null : Decimal.from(row.spend_budget).normalize().toString(),
        alertPercents: row.spend_alert_percents ?? [],
        hardCap: row.spend_hard_cap,
      },
      planId: inEffect?.plan_id ?? null,
      planSchedule: schedule.map((a) => ({
        planId: a.plan_id,
        effectiveFrom: a.effective_from.toISOString(),
      })),
      configRevision: Number(row.config_revision),
      createdAt: row.created_at.toISOString(),
      updatedAt: row.updated_at.toISOString(),
    };
  });
}

interface MeterRow {
  key: string;
  name: string;
  description: string;
  aggregation: Aggregation;
  unit: string;
  value_property: string | null;
  series_property: string | null;
  heartbeat_timeout_seconds: number | null;
  allow_negative: boolean;
  group_by: string[] | null;
  revision: string;
  created_at: Date;
  updated_at: Date;
}

/** Meters by key, in one query; unknown keys are absent. Throws the database error. */
export async function readMeters(db: Queryable, keys: readonly string[]): Promise<MeterResource[]> {
  const { rows } = await db.query<MeterRow>(
    `select key, name, description, aggregation, unit, value_property, series_property,
            heartbeat_timeout_seconds, allow_negative, group_by, revision::text as revision,
            created_at, updated_at
       from meters where key = any($1::text[])`,
    [keys],
  );
  return rows.map((row) => ({
    key: row.key,
    name: row.name,
    description: row.description,
    aggregation: row.aggregation,
    unit: row.unit,
    valueProperty: row.value_property,
    seriesProperty: row.series_property,
    heartbeatTimeoutSeconds: row.heartbeat_timeout_seconds,
    allowNegative: row.allow_negative,
    groupBy: row.group_by ?? [],
    revision: Number(row.revision),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  }));
}

interface VersionRow {
  id: string;
  plan_id: string;
  version: number;
  effective_from: Date;
  currency: string;
  base_fee: string;
  prices: Record<string, PriceInput>;
  created_at: Date;
}

/** Plans by id with every version (oldest first), in two queries; unknown ids are absent. */
export async function readPlans(db: Queryable, ids: readonly string[]): Promise<PlanResource[]> {
  const [plans, versions] = await Promise.all([
    db.query<{ id: string; key: string; name: string; created_at: Date }>(
      "select id, key, name, created_at from plans where id = any($1::text[])",
      [ids],
    ),
    db.query<VersionRow>(
      `select id, plan_id, version, effective_from, currency, base_fee::text as base_fee, prices,
              created_at
         from plan_versions where plan_id = any($1::text[]) order by plan_id, version`,
      [ids],
    ),
  ]);
  return plans.rows.map((row) => {
    const mine: PlanVersionResource[] = versions.rows
      .filter((v) => v.plan_id === row.id)
      .map((v) => ({
        id: v.id,
        version: v.version,
        effectiveFrom: v.effective_from.toISOString(),
        currency: v.currency.trim(),
        baseFee: Decimal.from(v.base_fee).normalize().toString(),
        prices: v.prices,
        createdAt: v.created_at.toISOString(),
      }));
    return {
      id: row.id,
      key: row.key,
      name: row.name,
      currency: mine[0]?.currency ?? "",
      createdAt: row.created_at.toISOString(),
      versions: mine,
    };
  });
}
