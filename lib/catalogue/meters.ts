import type { Queryable } from "../adapters/postgres.ts";
import { AppError } from "../errors/index.ts";
import type { Aggregation } from "./meter.ts";
import type { MeterPatch, MeterSpec } from "./meter-input.ts";
import { type Page, type PageRequest, toPage } from "./pagination.ts";

/** A meter as the admin API shows it. */
export interface MeterResource extends MeterSpec {
  /** Bumped on every change. */
  revision: number;
  createdAt: string;
  updatedAt: string;
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
  group_by: string[];
  revision: string;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = `key, name, description, aggregation, unit, value_property, series_property,
  heartbeat_timeout_seconds, allow_negative, group_by, revision::text as revision, created_at,
  updated_at`;

function toResource(row: MeterRow): MeterResource {
  return {
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
  };
}

function notFound(key: string): AppError {
  return new AppError("NOT_FOUND", `No meter ${key}`, {
    detail: `No meter has the key ${JSON.stringify(key)}.`,
  });
}

/** Bumps the catalogue-wide meters revision every account meter compares with its cache. */
async function bumpMetersRevision(tx: Queryable): Promise<void> {
  await tx.query("update catalogue_state set meters_revision = meters_revision + 1 where id = 1");
}

/**
 * Inserts a meter and bumps the meters revision, in the caller's transaction. ALREADY_EXISTS
 * (409) when the key is taken.
 */
export async function insertMeter(
  tx: Queryable,
  meter: MeterSpec,
  nowMs: number,
): Promise<MeterResource> {
  const { rows } = await tx.query<MeterRow>(
    `insert into meters (key, name, description, aggregation, unit, value_property,
                         series_property, heartbeat_timeout_seconds, allow_negative, group_by,
                         created_at, updated_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, to_timestamp($11 / 1000.0),
             to_timestamp($11 / 1000.0))
     on conflict (key) do nothing
     returning ${COLUMNS}`,
    [
      meter.key,
      meter.name,
      meter.description,
      meter.aggregation,
      meter.unit,
      meter.valueProperty,
      meter.seriesProperty,
      meter.heartbeatTimeoutSeconds,
      meter.allowNegative,
      meter.groupBy,
      nowMs,
    ],
  );
  const row = rows[0];
  if (!row) {
    throw new AppError("ALREADY_EXISTS", `Meter ${meter.key} already exists`, {
      detail: `A meter with the key ${JSON.stringify(meter.key)} exists. Meter keys are unique.`,
    });
  }
  await bumpMetersRevision(tx);
  return toResource(row);
}

/** Reads one meter; NOT_FOUND (404) when no meter has the key. */
export async function getMeter(
  db: Queryable,
  key: string,
  options: { forUpdate?: boolean } = {},
): Promise<MeterResource> {
  const { rows } = await db.query<MeterRow>(
    `select ${COLUMNS} from meters where key = $1${options.forUpdate ? " for update" : ""}`,
    [key],
  );
  const row = rows[0];
  if (!row) {
    throw notFound(key);
  }
  return toResource(row);
}

/** Lists meters by key (a stable order), one page at a time. */
export async function listMeters(db: Queryable, page: PageRequest): Promise<Page<MeterResource>> {
  const { rows } = await db.query<MeterRow>(
    `select ${COLUMNS} from meters where ($1::text is null or key > $1) order by key limit $2`,
    [page.after, page.limit + 1],
  );
  return toPage(rows, page, (row) => row.key, toResource);
}

/**
 * Applies a validated patch in the caller's transaction: bumps the meter's revision and the
 * meters revision, and returns the meter with the accounts whose plans price it (their meters
 * should be told now; every other meter learns within its revalidation interval).
 */
export async function updateMeter(
  tx: Queryable,
  key: string,
  patch: MeterPatch,
  nowMs: number,
): Promise<{ meter: MeterResource; affectedAccounts: string[] }> {
  const { rows } = await tx.query<MeterRow>(
    `update meters set name = coalesce($2, name), description = coalesce($3, description),
            unit = coalesce($4, unit), group_by = coalesce($5, group_by),
            revision = revision + 1, updated_at = to_timestamp($6 / 1000.0)
      where key = $1
      returning ${COLUMNS}`,
    [
      key,
      patch.name ?? null,
      patch.description ?? null,
      patch.unit ?? null,
      patch.groupBy ?? null,
      nowMs,
    ],
  );
  const row = rows[0];
  if (!row) {
    throw notFound(key);
  }
  await bumpMetersRevision(tx);
  const accounts = await tx.query<{ account_id: string }>(
    `select distinct ap.account_id
       from account_plans ap join plan_versions pv on pv.plan_id = ap.plan_id
      where pv.prices ? $1
      order by ap.account_id`,
    [key],
  );
  return { meter: toResource(row), affectedAccounts: accounts.rows.map((r) => r.account_id) };
}

/** The aggregation of each meter in `keys` that exists. */
export async function meterAggregations(
  db: Queryable,
  keys: string[],
): Promise<Map<string, Aggregation>> {
  if (keys.length === 0) {
    return new Map();
  }
  const { rows } = await db.query<{ key: string; aggregation: Aggregation }>(
    "select key, aggregation from meters where key = any($1::text[])",
    [keys],
  );
  return new Map(rows.map((r) => [r.key, r.aggregation]));
}
