import type { Queryable } from "../adapters/postgres.ts";
import { AppError } from "../errors/index.ts";
import type { IdGenerator } from "../ids/ids.ts";
import { Decimal } from "../money/decimal.ts";
import type { IntervalSpec } from "../periods/interval-spec.ts";
import type { CollectionMethod } from "./account-config.ts";
import type { AccountChanges, AccountDraft, AccountState, SpendSettings } from "./account-input.ts";
import { CatalogueErrors } from "./fields.ts";
import { type Page, type PageRequest, toPage } from "./pagination.ts";
import { checkPlanFits } from "./plan-switch.ts";

/** One entry of an account's plan schedule: the plan that applies from `effectiveFrom`. */
export interface PlanAssignment {
  planId: string;
  effectiveFrom: string;
}

/** An account as the admin API shows it. */
export interface AccountResource {
  id: string;
  name: string;
  email: string | null;
  currency: string;
  timeZone: string;
  billingInterval: IntervalSpec;
  collectionMethod: CollectionMethod;
  netTermsDays: number;
  poNumber: string | null;
  stripeCustomerId: string | null;
  notificationUrl: string | null;
  spend: SpendSettings;
  /** The plan in effect now, or null. */
  planId: string | null;
  /** Every plan assignment, oldest first; the last may lie in the future. */
  planSchedule: PlanAssignment[];
  /** Bumped whenever anything an account meter caches changes. */
  configRevision: number;
  createdAt: string;
  updatedAt: string;
}

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
  spend_alert_percents: number[];
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

const COLUMNS = `id, name, email, currency, time_zone, billing_interval, collection_method,
  net_terms_days, po_number, stripe_customer_id, notification_url,
  spend_budget::text as spend_budget, spend_alert_percents, spend_hard_cap,
  config_revision::text as config_revision, created_at, updated_at`;

function normalizeBudget(text: string | null): string | null {
  // numeric(38,12) reads back with twelve decimals; show the canonical form that was sent.
  return text === null ? null : Decimal.from(text).normalize().toString();
}

function toResource(row: AccountRow, assignments: AssignmentRow[], nowMs: number): AccountResource {
  const schedule = assignments.filter((a) => a.account_id === row.id);
  let planId: string | null = null;
  for (const assignment of schedule) {
    if (assignment.effective_from.getTime() <= nowMs) {
      planId = assignment.plan_id;
    }
  }
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
      budget: normalizeBudget(row.spend_budget),
      alertPercents: row.spend_alert_percents ?? [],
      hardCap: row.spend_hard_cap,
    },
    planId,
    planSchedule: schedule.map((a) => ({
      planId: a.plan_id,
      effectiveFrom: a.effective_from.toISOString(),
    })),
    configRevision: Number(row.config_revision),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

function notFound(id: string): AppError {
  return new AppError("NOT_FOUND", `No account ${id}`, {
    detail: `No account has the id ${JSON.stringify(id)}.`,
  });
}

async function assignmentsOf(db: Queryable, accountIds: string[]): Promise<AssignmentRow[]> {
  const { rows } = await db.query<AssignmentRow>(
    `select account_id, plan_id, effective_from from account_plans
      where account_id = any($1::text[]) order by account_id, effective_from`,
    [accountIds],
  );
  return rows;
}

/**
 * Inserts an account (and its first plan assignment, from `planEffectiveFromMs` or now) in the
 * caller's transaction. Reports plan problems as field errors (422) and a taken id as
 * ALREADY_EXISTS (409). No account meter can hold a configuration for an account that did not
 * exist, so creation needs no lead time and no push.
 */
export async function insertAccount(
  tx: Queryable,
  draft: AccountDraft,
  ids: IdGenerator,
  nowMs: number,
): Promise<AccountResource> {
  const id = draft.id ?? ids.next("account");
  // Plan boundaries are whole seconds, like billing periods (see proration.ts).
  const planFromMs = draft.planEffectiveFromMs ?? Math.floor(nowMs / 1000) * 1000;
  if (draft.planId !== null) {
    const errors = new CatalogueErrors();
    const timeField = draft.planEffectiveFromMs === null ? "/planId" : "/planEffectiveFrom";
    await checkPlanFits(
      tx,
      draft.planId,
      draft.currency,
      planFromMs,
      { plan: "/planId", time: timeField },
      errors,
    );
    errors.throwIfAny("The account's plan is invalid");
  }
  const inserted = await tx.query(
    `insert into accounts (id, name, email, currency, time_zone, billing_interval,
                           collection_method, net_terms_days, po_number, stripe_customer_id,
                           notification_url, spend_budget, spend_alert_percents, spend_hard_cap,
                           created_at, updated_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
             to_timestamp($15 / 1000.0), to_timestamp($15 / 1000.0))
     on conflict (id) do nothing
     returning id`,
    [
      id,
      draft.name,
      draft.email,
      draft.currency,
      draft.timeZone,
      JSON.stringify(draft.billingInterval),
      draft.collectionMethod,
      draft.netTermsDays,
      draft.poNumber,
      draft.stripeCustomerId,
      draft.notificationUrl,
      draft.spend.budget,
      draft.spend.alertPercents,
      draft.spend.hardCap,
      nowMs,
    ],
  );
  if (inserted.rows.length === 0) {
    throw new AppError("ALREADY_EXISTS", `Account ${id} already exists`, {
      detail: `An account with the id ${JSON.stringify(id)} exists. Account ids are unique.`,
    });
  }
  if (draft.planId !== null) {
    await tx.query(
      `insert into account_plans (account_id, plan_id, effective_from, created_at)
       values ($1, $2, to_timestamp($3 / 1000.0), to_timestamp($4 / 1000.0))`,
      [id, draft.planId, planFromMs, nowMs],
    );
  }
  return getAccount(tx, id, nowMs);
}

/** Reads an account with its plan schedule; NOT_FOUND (404) when no account has the id. */
export async function getAccount(
  db: Queryable,
  id: string,
  nowMs: number,
): Promise<AccountResource> {
  const { rows } = await db.query<AccountRow>(`select ${COLUMNS} from accounts where id = $1`, [
    id,
  ]);
  const row = rows[0];
  if (!row) {
    throw notFound(id);
  }
  return toResource(row, await assignmentsOf(db, [id]), nowMs);
}

/** Lists accounts by id (a stable order), with their plan schedules. */
export async function listAccounts(
  db: Queryable,
  page: PageRequest,
  nowMs: number,
): Promise<Page<AccountResource>> {
  const { rows } = await db.query<AccountRow>(
    `select ${COLUMNS} from accounts where ($1::text is null or id > $1) order by id limit $2`,
    [page.after, page.limit + 1],
  );
  const assignments = await assignmentsOf(
    db,
    rows.slice(0, page.limit).map((r) => r.id),
  );
  return toPage(
    rows,
    page,
    (row) => row.id,
    (row) => toResource(row, assignments, nowMs),
  );
}

/**
 * Locks an account row for the rest of the caller's transaction and returns what a PATCH or a
 * plan switch is checked against; NOT_FOUND (404) when it does not exist.
 */
export async function lockAccount(tx: Queryable, id: string): Promise<AccountState> {
  const { rows } = await tx.query<AccountRow>(
    `select ${COLUMNS} from accounts where id = $1 for update`,
    [id],
  );
  const row = rows[0];
  if (!row) {
    throw notFound(id);
  }
  return {
    id: row.id,
    currency: row.currency.trim(),
    timeZone: row.time_zone,
    billingInterval: row.billing_interval,
    collectionMethod: row.collection_method,
    netTermsDays: row.net_terms_days,
  };
}

/**
 * Applies validated changes to an account locked with `lockAccount` and bumps its
 * configuration revision (its meter caches the account's settings), in the caller's
 * transaction.
 */
export async function updateAccount(
  tx: Queryable,
  id: string,
  changes: AccountChanges,
  nowMs: number,
): Promise<AccountResource> {
  const set = (key: keyof AccountChanges) => (key in changes ? 1 : 0);
  await tx.query(
    `update accounts set
       name = coalesce($2, name),
       email = case when $3 = 1 then $4 else email end,
       collection_method = coalesce($5, collection_method),
       net_terms_days = coalesce($6, net_terms_days),
       po_number = case when $7 = 1 then $8 else po_number end,
       stripe_customer_id = case when $9 = 1 then $10 else stripe_customer_id end,
       notification_url = case when $11 = 1 then $12 else notification_url end,
       spend_budget = case when $13 = 1 then $14::numeric else spend_budget end,
       spend_alert_percents = case when $13 = 1 then $15::integer[] else spend_alert_percents end,
       spend_hard_cap = case when $13 = 1 then $16::boolean else spend_hard_cap end,
       config_revision = config_revision + 1,
       updated_at = to_timestamp($17 / 1000.0)
     where id = $1`,
    [
      id,
      changes.name ?? null,
      set("email"),
      changes.email ?? null,
      changes.collectionMethod ?? null,
      changes.netTermsDays ?? null,
      set("poNumber"),
      changes.poNumber ?? null,
      set("stripeCustomerId"),
      changes.stripeCustomerId ?? null,
      set("notificationUrl"),
      changes.notificationUrl ?? null,
      set("spend"),
      changes.spend?.budget ?? null,
      changes.spend?.alertPercents ?? null,
      changes.spend?.hardCap ?? null,
      nowMs,
    ],
  );
  return getAccount(tx, id, nowMs);
}
