import type { Queryable } from "../adapters/postgres.ts";
import { AppError } from "../errors/index.ts";
import type { IdGenerator } from "../ids/ids.ts";
import { Decimal } from "../money/decimal.ts";
import type { PriceInput } from "../pricing/types.ts";
import { type Page, type PageRequest, toPage } from "./pagination.ts";
import type { PlanRecord, PlanVersionRecord, VersionContext } from "./plan-input.ts";

/** One version of a plan as the admin API shows it. Amounts are decimal strings. */
export interface PlanVersionResource {
  id: string;
  version: number;
  effectiveFrom: string;
  currency: string;
  baseFee: string;
  prices: Record<string, PriceInput>;
  createdAt: string;
}

/** A plan with every version, oldest first. */
export interface PlanResource {
  id: string;
  key: string;
  name: string;
  currency: string;
  createdAt: string;
  versions: PlanVersionResource[];
}

interface PlanRow {
  id: string;
  key: string;
  name: string;
  created_at: Date;
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

const VERSION_COLUMNS = `id, plan_id, version, effective_from, currency, base_fee::text as base_fee,
  prices, created_at`;

function toVersion(row: VersionRow): PlanVersionResource {
  return {
    id: row.id,
    version: row.version,
    effectiveFrom: row.effective_from.toISOString(),
    currency: row.currency.trim(),
    // numeric(38,12) reads back with twelve decimals; show the canonical form that was sent.
    baseFee: Decimal.from(row.base_fee).normalize().toString(),
    prices: row.prices,
    createdAt: row.created_at.toISOString(),
  };
}

function toResource(row: PlanRow, versions: VersionRow[]): PlanResource {
  const mine = versions.filter((v) => v.plan_id === row.id).map(toVersion);
  return {
    id: row.id,
    key: row.key,
    name: row.name,
    currency: mine[0]?.currency ?? "",
    createdAt: row.created_at.toISOString(),
    versions: mine,
  };
}

function notFound(id: string): AppError {
  return new AppError("NOT_FOUND", `No plan ${id}`, {
    detail: `No plan has the id ${JSON.stringify(id)}.`,
  });
}

async function versionsOf(db: Queryable, planIds: string[]): Promise<VersionRow[]> {
  const { rows } = await db.query<VersionRow>(
    `select ${VERSION_COLUMNS} from plan_versions where plan_id = any($1::text[])
      order by plan_id, version`,
    [planIds],
  );
  return rows;
}

async function insertVersion(
  tx: Queryable,
  planId: string,
  version: number,
  record: PlanVersionRecord,
  ids: IdGenerator,
  nowMs: number,
): Promise<void> {
  await tx.query(
    `insert into plan_versions (id, plan_id, version, effective_from, currency, base_fee, prices,
                                created_at)
     values ($1, $2, $3, to_timestamp($4 / 1000.0), $5, $6, $7, to_timestamp($8 / 1000.0))`,
    [
      ids.next("planVersion"),
      planId,
      version,
      record.effectiveFromMs,
      record.currency,
      record.baseFee,
      JSON.stringify(record.prices),
      nowMs,
    ],
  );
}

/**
 * Inserts a plan and its versions (numbered from 1) in the caller's transaction.
 * ALREADY_EXISTS (409) when the key is taken. A new plan prices no account yet.
 */
export async function insertPlan(
  tx: Queryable,
  plan: PlanRecord,
  ids: IdGenerator,
  nowMs: number,
): Promise<PlanResource> {
  const id = ids.next("plan");
  const inserted = await tx.query<PlanRow>(
    `insert into plans (id, key, name, created_at) values ($1, $2, $3, to_timestamp($4 / 1000.0))
     on conflict (key) do nothing
     returning id`,
    [id, plan.key, plan.name, nowMs],
  );
  if (inserted.rows.length === 0) {
    throw new AppError("ALREADY_EXISTS", `Plan ${plan.key} already exists`, {
      detail: `A plan with the key ${JSON.stringify(plan.key)} exists. Plan keys are unique.`,
    });
  }
  for (const [index, version] of plan.versions.entries()) {
    await insertVersion(tx, id, index + 1, version, ids, nowMs);
  }
  return getPlan(tx, id);
}

/** Reads a plan with its versions; NOT_FOUND (404) when no plan has the id. */
export async function getPlan(db: Queryable, id: string): Promise<PlanResource> {
  const { rows } = await db.query<PlanRow>(
    "select id, key, name, created_at from plans where id = $1",
    [id],
  );
  const row = rows[0];
  if (!row) {
    throw notFound(id);
  }
  return toResource(row, await versionsOf(db, [id]));
}

/**
 * Locks a plan row for the rest of the caller's transaction (so concurrent new versions are
 * numbered and ordered one after the other) and returns what a new version must follow.
 */
export async function lockPlanForVersion(tx: Queryable, id: string): Promise<VersionContext> {
  const locked = await tx.query("select id from plans where id = $1 for update", [id]);
  if (locked.rows.length === 0) {
    throw notFound(id);
  }
  // A separate statement after the lock: in READ COMMITTED it sees versions committed by a
  // transaction the lock waited for, which the locking statement's own snapshot would not.
  const { rows } = await tx.query<{ currency: string; latest_ms: string }>(
    `select currency, (extract(epoch from effective_from) * 1000)::bigint::text as latest_ms
       from plan_versions where plan_id = $1 order by version desc limit 1`,
    [id],
  );
  const row = rows[0];
  if (!row) {
    throw new Error(`plan ${id} has no version`);
  }
  return { currency: row.currency.trim(), latestEffectiveFromMs: Number(row.latest_ms) };
}

/** Lists plans by id (creation order, since ids sort by time), with their versions. */
export async function listPlans(db: Queryable, page: PageRequest): Promise<Page<PlanResource>> {
  const { rows } = await db.query<PlanRow>(
    `select id, key, name, created_at from plans where ($1::text is null or id > $1)
      order by id limit $2`,
    [page.after, page.limit + 1],
  );
  const versions = await versionsOf(
    db,
    rows.slice(0, page.limit).map((r) => r.id),
  );
  return toPage(
    rows,
    page,
    (row) => row.id,
    (row) => toResource(row, versions),
  );
}

/**
 * Appends a version to a plan locked with `lockPlanForVersion`, in the caller's transaction, and
 * bumps the configuration revision of every account ever assigned the plan (their pricing
 * windows change). Returns the plan and those accounts, whose meters must learn the version.
 */
export async function appendPlanVersion(
  tx: Queryable,
  planId: string,
  record: PlanVersionRecord,
  ids: IdGenerator,
  nowMs: number,
): Promise<{ plan: PlanResource; affectedAccounts: string[] }> {
  const { rows } = await tx.query<{ next: number }>(
    "select coalesce(max(version), 0) + 1 as next from plan_versions where plan_id = $1",
    [planId],
  );
  await insertVersion(tx, planId, rows[0]?.next ?? 1, record, ids, nowMs);
  const bumped = await tx.query<{ id: string }>(
    `update accounts set config_revision = config_revision + 1
      where id in (select account_id from account_plans where plan_id = $1)
      returning id`,
    [planId],
  );
  return {
    plan: await getPlan(tx, planId),
    affectedAccounts: bumped.rows.map((r) => r.id).sort(),
  };
}
