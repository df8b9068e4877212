import { env } from "cloudflare:workers";
import { openDatabase } from "../../../lib/adapters/postgres.ts";
import type { Aggregation } from "../../../lib/catalogue/meter.ts";
import { configFor } from "../../../lib/env/config.ts";

/**
 * Writes catalogue rows straight into the local Postgres for tests that exercise ingestion
 * without going through the catalogue API.
 */
export function testDb() {
  return openDatabase(configFor(env).database, { max: 2 });
}

export interface MeterSeed {
  key: string;
  aggregation: Aggregation;
  unit?: string;
  valueProperty?: string | null;
  seriesProperty?: string | null;
  heartbeatTimeoutSeconds?: number | null;
  allowNegative?: boolean;
  groupBy?: string[];
}

export async function seedMeters(meters: MeterSeed[]): Promise<void> {
  const db = testDb();
  try {
    for (const m of meters) {
      await db.query(
        `insert into meters (key, name, aggregation, unit, value_property, series_property,
                             heartbeat_timeout_seconds, allow_negative, group_by)
         values ($1, $1, $2, $3, $4, $5, $6, $7, $8)`,
        [
          m.key,
          m.aggregation,
          m.unit ?? "unit",
          m.valueProperty ?? null,
          m.seriesProperty ?? null,
          m.heartbeatTimeoutSeconds ?? null,
          m.allowNegative ?? false,
          m.groupBy ?? [],
        ],
      );
    }
    await db.query("update catalogue_state set meters_revision = meters_revision + 1");
  } finally {
    await db.end();
  }
}

export interface AccountSeed {
  id: string;
  currency?: string;
  timeZone?: string;
  interval?: unknown;
  planId?: string;
  planFrom?: string;
  spendBudget?: string | null;
  hardCap?: boolean;
}

export async function seedAccount(account: AccountSeed): Promise<void> {
  const db = testDb();
  try {
    await db.query(
      `insert into accounts (id, name, currency, time_zone, billing_interval, collection_method,
                             spend_budget, spend_hard_cap)
       values ($1, $1, $2, $3, $4, 'charge_automatically', $5, $6)`,
      [
        account.id,
        account.currency ?? "USD",
        account.timeZone ?? "UTC",
        JSON.stringify(account.interval ?? { unit: "month", count: 1, anchorDay: 1 }),
        account.spendBudget ?? null,
        account.hardCap ?? false,
      ],
    );
    if (account.planId) {
      await db.query(
        "insert into account_plans (account_id, plan_id, effective_from) values ($1, $2, $3)",
        [account.id, account.planId, account.planFrom ?? "2000-01-01T00:00:00Z"],
      );
    }
  } finally {
    await db.end();
  }
}

export interface PlanVersionSeed {
  id: string;
  effectiveFrom: string;
  currency?: string;
  baseFee?: string;
  prices: Record<string, unknown>;
}

export async function seedPlan(planId: string, versions: PlanVersionSeed[]): Promise<void> {
  const db = testDb();
  try {
    await db.query("insert into plans (id, key, name) values ($1, $1, $1)", [planId]);
    let version = 1;
    for (const v of versions) {
      await db.query(
        `insert into plan_versions (id, plan_id, version, effective_from, currency, base_fee, prices)
         values ($1, $2, $3, $4, $5, $6, $7)`,
        [
          v.id,
          planId,
          version,
          v.effectiveFrom,
          v.currency ?? "USD",
          v.baseFee ?? "0",
          JSON.stringify(v.prices),
        ],
      );
      version += 1;
    }
  } finally {
    await db.end();
  }
}
