import type { Database, Queryable } from "../adapters/postgres.ts";
import { type Actor, appendAudit } from "../audit/audit-log.ts";
import { AppError, type FieldError } from "../errors/index.ts";
import type { IdGenerator } from "../ids/ids.ts";
import { getCurrency } from "../money/currency.ts";
import { Decimal } from "../money/decimal.ts";

/** Promotional credit is given away; purchased credit was paid for (prepayment). */
export type GrantKind = "promotional" | "purchased";
export const GRANT_KINDS: readonly GrantKind[] = ["promotional", "purchased"];
/** Priority of a grant that names none: the middle of 0–1000, so either side stays reachable. */
export const DEFAULT_GRANT_PRIORITY = 100;

/** A credit grant as stored; money in integer minor units of `currency`. */
export interface CreditGrant {
  id: string;
  accountId: string;
  kind: GrantKind;
  currency: string;
  amountMinor: bigint;
  remainingMinor: bigint;
  priority: number;
  effectiveAtMs: number;
  expiresAtMs: number | null;
  description: string;
  source: string | null;
  voidedAtMs: number | null;
  createdAtMs: number;
}

/** A validated request to grant credit. */
export interface GrantDraft {
  accountId: string;
  kind: GrantKind;
  currency: string;
  amountMinor: bigint;
  priority: number;
  effectiveAtMs: number;
  expiresAtMs: number | null;
  description: string;
  source: string | null;
  idempotencyKey: string | null;
}

/** The part of the consumption order a grant is sorted by. */
export interface OrderedGrant {
  id: string;
  priority: number;
  expiresAtMs: number | null;
  createdAtMs: number;
  remainingMinor: bigint;
}

/**
 * The order credit is consumed in: lower `priority` first; then the grant that expires soonest
 * (never-expiring last), so credit that would be lost goes first; then the oldest grant; then
 * the id, so the order is total and the same everywhere (invoice and account meter).
 */
export function consumptionOrder(a: OrderedGrant, b: OrderedGrant): number {
  if (a.priority !== b.priority) {
    return a.priority - b.priority;
  }
  const ea = a.expiresAtMs ?? Number.POSITIVE_INFINITY;
  const eb = b.expiresAtMs ?? Number.POSITIVE_INFINITY;
  if (ea !== eb) {
    return ea < eb ? -1 : 1;
  }
  if (a.createdAtMs !== b.createdAtMs) {
    return a.createdAtMs - b.createdAtMs;
  }
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * How `amountMinor` is taken from `grants` in consumption order: each grant gives
 * min(what is still owed, its remaining). Pure; parts sum to min(amount, Σ remaining).
 */
export function planConsumption(
  grants: readonly OrderedGrant[],
  amountMinor: bigint,
): { grantId: string; amountMinor: bigint }[] {
  const plan: { grantId: string; amountMinor: bigint }[] = [];
  let owed = amountMinor;
  for (const grant of [...grants].sort(consumptionOrder)) {
    if (owed <= 0n) {
      break;
    }
    const take = minMinor(grant.remainingMinor, owed);
    if (take > 0n) {
      plan.push({ grantId: grant.id, amountMinor: take });
      owed -= take;
    }
  }
  return plan;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The smaller of two amounts (Math.min does not take bigints). */
export function minMinor(a: bigint, b: bigint): bigint {
  if (a < b) {
    return a;
  }
  return b;
}

interface GrantRow {
  id: string;
  account_id: string;
  kind: GrantKind;
  currency: string;
  amount_minor: string;
  remaining_minor: string;
  priority: number;
  effective_at: Date;
  expires_at: Date | null;
  description: string;
  source: string | null;
  voided_at: Date | null;
  created_at: Date;
}

/** The grant columns as GrantRow reads them, optionally qualified by a table alias. */
function grantColumns(alias = ""): string {
  const p = alias ? `${alias}.` : "";
  return `${p}id, ${p}account_id, ${p}kind, ${p}currency, ${p}amount_minor::text as amount_minor,
    ${p}remaining_minor::text as remaining_minor, ${p}priority, ${p}effective_at, ${p}expires_at,
    ${p}description, ${p}source, ${p}voided_at, ${p}created_at`;
}
const GRANT_COLUMNS = grantColumns();

function toGrant(row: GrantRow): CreditGrant {
  return {
    id: row.id,
    accountId: row.account_id,
    kind: row.kind,
    currency: row.currency.trim(),
    amountMinor: BigInt(row.amount_minor),
    remainingMinor: BigInt(row.remaining_minor),
    priority: row.priority,
    effectiveAtMs: row.effective_at.getTime(),
    expiresAtMs: row.expires_at?.getTime() ?? null,
    description: row.description,
    source: row.source,
    voidedAtMs: row.voided_at?.getTime() ?? null,
    createdAtMs: row.created_at.getTime(),
  };
}

function instantField(
  value: unknown,
  field: string,
  errors: FieldError[],
): number | null | undefined {
  if (value === undefined || value === null) {
    return value === null ? null : undefined;
  }
  const ms = typeof value === "string" ? Date.parse(value) : Number.NaN;
  if (typeof value !== "string" || !/(Z|[+-]\d\d:\d\d)$/.test(value) || Number.isNaN(ms)) {
    errors.push({ field, code: "invalid_instant", detail: "an RFC 3339 instant with a zone" });
    return undefined;
  }
  return ms;
}

/**
 * Validates a grant request: `amount` decimal text > 0 with no more digits than the currency
 * has; `currency` (default the account's) must be the account's; `kind`; `priority` 0–1000
 * (default 100); `effectiveAt` (default now); `expiresAt` after both now and `effectiveAt`.
 * Throws VALIDATION_FAILED listing every problem.
 */
export function parseGrantDraft(
  body: Record<string, unknown>,
  account: { id: string; currency: string },
  nowMs: number,
  idempotencyKey: string | null,
): GrantDraft {
  const errors: FieldError[] = [];
  const currency = body.currency === undefined ? account.currency : body.currency;
  if (currency !== account.currency) {
    errors.push({
      field: "/currency",
      code: "currency_mismatch",
      detail: `credit must be in the account currency ${account.currency}`,
    });
  }
  const { exponent } = getCurrency(account.currency);
  let amountMinor = 0n;
  const parsed = typeof body.amount === "string" ? Decimal.tryFrom(body.amount) : null;
  if (!parsed?.ok || !parsed.value.isPositive() || parsed.value.fractionalDigits() > exponent) {
    errors.push({
      field: "/amount",
      code: "invalid_amount",
      detail: `a positive decimal string with at most ${exponent} fractional digits`,
    });
  } else {
    amountMinor = parsed.value.movePoint(exponent).toBigInt();
  }
  const kind = body.kind;
  if (typeof kind !== "string" || !(GRANT_KINDS as readonly string[]).includes(kind)) {
    errors.push({ field: "/kind", code: "invalid_value", detail: "promotional or purchased" });
  }
  const priority = body.priority ?? DEFAULT_GRANT_PRIORITY;
  if (
    typeof priority !== "number" ||
    !Number.isInteger(priority) ||
    priority < 0 ||
    priority > 1000
  ) {
    errors.push({ field: "/priority", code: "out_of_range", detail: "an integer from 0 to 1000" });
  }
  const effectiveAtMs = instantField(body.effectiveAt, "/effectiveAt", errors) ?? nowMs;
  const expiresAtMs = instantField(body.expiresAt, "/expiresAt", errors) ?? null;
  if (expiresAtMs !== null && (expiresAtMs <= effectiveAtMs || expiresAtMs <= nowMs)) {
    errors.push({
      field: "/expiresAt",
      code: "out_of_range",
      detail: "must be after effectiveAt and in the future",
    });
  }
  const description = body.description ?? "";
  if (typeof description !== "string" || description.length > 500) {
    errors.push({ field: "/description", code: "invalid_value", detail: "at most 500 characters" });
  }
  if (errors.length > 0) {
    throw new AppError("VALIDATION_FAILED", "The credit grant is invalid", {
      detail: errors.map((e) => `${e.field}: ${e.detail}`).join("; "),
      fieldErrors: errors,
    });
  }
  return {
    accountId: account.id,
    kind: kind as GrantKind,
    currency: account.currency,
    amountMinor,
    priority: priority as number,
    effectiveAtMs,
    expiresAtMs,
    description: description as string,
    source: null,
    idempotencyKey,
  };
}

async function appendEntry(
  tx: Queryable,
  ids: IdGenerator,
  entry: {
    grant: Pick<CreditGrant, "id" | "accountId" | "currency">;
    kind: "grant" | "consume" | "reverse" | "expire" | "void";
    amountMinor: bigint;
    invoiceId: string | null;
    nowMs: number;
  },
): Promise<void> {
  await tx.query(
    `insert into credit_ledger (id, grant_id, account_id, kind, amount_minor, currency, invoice_id,
                                occurred_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      ids.next("creditEntry"),
      entry.grant.id,
      entry.grant.accountId,
      entry.kind,
      entry.amountMinor.toString(),
      entry.grant.currency,
      entry.invoiceId,
      iso(entry.nowMs),
    ],
  );
  if (entry.kind !== "grant") {
    await tx.query(
      "update credit_grants set remaining_minor = remaining_minor + $2 where id = $1",
      [entry.grant.id, entry.amountMinor.toString()],
    );
  }
}

/**
 * Grants credit inside the caller's transaction: the grant, its `grant` ledger entry and a
 * `credit.granted` audit record commit together. With an idempotency key already used for this
 * account, returns the earlier grant (`replayed`) and writes nothing.
 */
export async function createGrant(
  tx: Queryable,
  ids: IdGenerator,
  draft: GrantDraft,
  actor: Actor,
  nowMs: number,
): Promise<{ grant: CreditGrant; replayed: boolean }> {
  const id = ids.next("creditGrant");
  const inserted = await tx.query<GrantRow>(
    `insert into credit_grants (id, account_id, kind, currency, amount_minor, remaining_minor,
                                priority, effective_at, expires_at, description, source,
                                idempotency_key, created_at)
     values ($1, $2, $3, $4, $5, $5, $6, $7, $8, $9, $10, $11, $12)
     on conflict (account_id, idempotency_key) do nothing
     returning ${GRANT_COLUMNS}`,
    [
      id,
      draft.accountId,
      draft.kind,
      draft.currency,
      draft.amountMinor.toString(),
      draft.priority,
      iso(draft.effectiveAtMs),
      draft.expiresAtMs === null ? null : iso(draft.expiresAtMs),
      draft.description,
      draft.source,
      draft.idempotencyKey,
      iso(nowMs),
    ],
  );
  const row = inserted.rows[0];
  if (!row) {
    const existing = await tx.query<GrantRow>(
      `select ${GRANT_COLUMNS} from credit_grants where account_id = $1 and idempotency_key = $2`,
      [draft.accountId, draft.idempotencyKey],
    );
    return { grant: toGrant(existing.rows[0] as GrantRow), replayed: true };
  }
  const grant = toGrant(row);
  await appendEntry(tx, ids, {
    grant,
    kind: "grant",
    amountMinor: grant.amountMinor,
    invoiceId: null,
    nowMs,
  });
  await appendAudit(tx, ids, {
    accountId: grant.accountId,
    actor,
    action: "credit.granted",
    subjectType: "credit_grant",
    subjectId: grant.id,
    reason: draft.description || `${grant.kind} credit`,
    after: {
      kind: grant.kind,
      priority: grant.priority,
      effectiveAt: iso(grant.effectiveAtMs),
      expiresAt: grant.expiresAtMs === null ? null : iso(grant.expiresAtMs),
      source: grant.source,
    },
    amountMinor: grant.amountMinor,
    currency: grant.currency,
    occurredAtMs: nowMs,
  });
  return { grant, replayed: false };
}

/** An account's grants, newest first (voided and spent ones included). */
export async function listGrants(db: Queryable, accountId: string): Promise<CreditGrant[]> {
  const { rows } = await db.query<GrantRow>(
    `select ${GRANT_COLUMNS} from credit_grants where account_id = $1
      order by created_at desc, id desc`,
    [accountId],
  );
  return rows.map(toGrant);
}

/**
 * Voids what is left of a grant (a `void` ledger entry of −remaining, and an audit record), in
 * the caller's transaction. Voiding a voided grant changes nothing. NOT_FOUND for a grant of
 * another account.
 */
export async function voidGrant(
  tx: Queryable,
  ids: IdGenerator,
  input: { accountId: string; grantId: string; actor: Actor; reason: string; nowMs: number },
): Promise<CreditGrant> {
  const { rows } = await tx.query<GrantRow>(
    `select ${GRANT_COLUMNS} from credit_grants where id = $1 and account_id = $2 for update`,
    [input.grantId, input.accountId],
  );
  const row = rows[0];
  if (!row) {
    throw new AppError("NOT_FOUND", `No credit grant ${input.grantId}`, {
      detail: "The grant does not exist for this account.",
    });
  }
  const grant = toGrant(row);
  if (grant.voidedAtMs !== null) {
    return grant;
  }
  if (grant.remainingMinor > 0n) {
    await appendEntry(tx, ids, {
      grant,
      kind: "void",
      amountMinor: -grant.remainingMinor,
      invoiceId: null,
      nowMs: input.nowMs,
    });
  }
  await tx.query("update credit_grants set voided_at = $2 where id = $1", [
    grant.id,
    iso(input.nowMs),
  ]);
  await appendAudit(tx, ids, {
    accountId: grant.accountId,
    actor: input.actor,
    action: "credit.voided",
    subjectType: "credit_grant",
    subjectId: grant.id,
    reason: input.reason,
    before: { remainingMinor: grant.remainingMinor.toString() },
    after: { remainingMinor: "0", voided: true },
    amountMinor: grant.remainingMinor,
    currency: grant.currency,
    occurredAtMs: input.nowMs,
  });
  return { ...grant, remainingMinor: 0n, voidedAtMs: input.nowMs };
}

/** One credit movement, as the ledger API shows it. */
export interface LedgerEntry {
  id: string;
  grantId: string;
  kind: string;
  amountMinor: bigint;
  currency: string;
  invoiceId: string | null;
  occurredAtMs: number;
}

/** An account's credit ledger, newest entry first (by insertion), at most `limit` entries. */
export async function listCreditLedger(
  db: Queryable,
  accountId: string,
  limit: number,
): Promise<LedgerEntry[]> {
  const { rows } = await db.query<{
    id: string;
    grant_id: string;
    kind: string;
    amount_minor: string;
    currency: string;
    invoice_id: string | null;
    occurred_at: Date;
  }>(
    `select id, grant_id, kind, amount_minor::text, currency, invoice_id, occurred_at
       from credit_ledger where account_id = $1 order by seq desc limit $2`,
    [accountId, limit],
  );
  return rows.map((row) => ({
    id: row.id,
    grantId: row.grant_id,
    kind: row.kind,
    amountMinor: BigInt(row.amount_minor),
    currency: row.currency.trim(),
    invoiceId: row.invoice_id,
    occurredAtMs: row.occurred_at.getTime(),
  }));
}

/** Credit taken from one grant by one invoice. */
export interface CreditApplication {
  grantId: string;
  amountMinor: bigint;
}

const USABLE = `account_id = $1 and currency = $2 and remaining_minor > 0 and voided_at is null
  and effective_at < $4 and (expires_at is null or expires_at > $3)`;

/**
 * The grants an invoice of `period` could draw on (read only): same currency, not voided,
 * effective before the period ends and not expired before it starts, with credit left.
 */
export async function usableGrants(
  db: Queryable,
  input: { accountId: string; currency: string; periodStartMs: number; periodEndMs: number },
): Promise<CreditGrant[]> {
  const { rows } = await db.query<GrantRow>(
    `select ${GRANT_COLUMNS} from credit_grants where ${USABLE} order by id`,
    [input.accountId, input.currency, iso(input.periodStartMs), iso(input.periodEndMs)],
  );
  return rows.map(toGrant);
}

/**
 * Consumes up to `amountMinor` of the account's usable credit for an invoice of `period`, in the
 * caller's (finalization) transaction: locks the usable grants, takes from them in consumption
 * order, appends a `consume` entry and a `credit.consumed` audit record per grant used. Usable:
 * same currency, not voided, effective before the period ends and not expired before it starts.
 */
export async function consumeCredits(
  tx: Queryable,
  ids: IdGenerator,
  input: {
    accountId: string;
    currency: string;
    invoiceId: string;
    periodStartMs: number;
    periodEndMs: number;
    amountMinor: bigint;
    nowMs: number;
  },
): Promise<CreditApplication[]> {
  if (input.amountMinor <= 0n) {
    return [];
  }
  const { rows } = await tx.query<GrantRow>(
    `select ${GRANT_COLUMNS} from credit_grants where ${USABLE} order by id for update`,
    [input.accountId, input.currency, iso(input.periodStartMs), iso(input.periodEndMs)],
  );
  const grants = rows.map(toGrant);
  const plan = planConsumption(grants, input.amountMinor);
  for (const part of plan) {
    const grant = grants.find((g) => g.id === part.grantId) as CreditGrant;
    await appendEntry(tx, ids, {
      grant,
      kind: "consume",
      amountMinor: -part.amountMinor,
      invoiceId: input.invoiceId,
      nowMs: input.nowMs,
    });
    await appendAudit(tx, ids, {
      accountId: input.accountId,
      actor: "system:invoice-run",
      action: "credit.consumed",
      subjectType: "credit_grant",
      subjectId: grant.id,
      reason: `Applied to invoice ${input.invoiceId}`,
      before: { remainingMinor: grant.remainingMinor.toString() },
      after: { remainingMinor: (grant.remainingMinor - part.amountMinor).toString() },
      amountMinor: part.amountMinor,
      currency: grant.currency,
      occurredAtMs: input.nowMs,
    });
  }
  return plan;
}

/**
 * Gives back everything an invoice consumed (a `reverse` entry per grant, and an audit record),
 * in the caller's transaction, e.g. when the invoice is voided. A voided grant stays voided: its
 * returned credit is voided again at once. Returns the total returned.
 */
export async function reverseCredits(
  tx: Queryable,
  ids: IdGenerator,
  input: { accountId: string; invoiceId: string; actor: Actor; nowMs: number },
): Promise<bigint> {
  const { rows } = await tx.query<GrantRow & { consumed: string }>(
    `select ${grantColumns("g")}, (-l.amount_minor)::text as consumed
       from credit_ledger l join credit_grants g on g.id = l.grant_id
      where l.invoice_id = $1 and l.kind = 'consume'
        and not exists (select 1 from credit_ledger r where r.grant_id = l.grant_id
                          and r.invoice_id = l.invoice_id and r.kind = 'reverse')
      order by g.id for update of g`,
    [input.invoiceId],
  );
  let total = 0n;
  for (const row of rows) {
    const grant = toGrant(row);
    const amount = BigInt(row.consumed);
    await appendEntry(tx, ids, {
      grant,
      kind: "reverse",
      amountMinor: amount,
      invoiceId: input.invoiceId,
      nowMs: input.nowMs,
    });
    if (grant.voidedAtMs !== null) {
      await appendEntry(tx, ids, {
        grant,
        kind: "void",
        amountMinor: -amount,
        invoiceId: null,
        nowMs: input.nowMs,
      });
    }
    await appendAudit(tx, ids, {
      accountId: input.accountId,
      actor: input.actor,
      action: "credit.restored",
      subjectType: "credit_grant",
      subjectId: grant.id,
      reason: `Invoice ${input.invoiceId} voided`,
      amountMinor: amount,
      currency: grant.currency,
      occurredAtMs: input.nowMs,
    });
    total += amount;
  }
  return total;
}

/**
 * Expires what is left of grants whose expiry is at or before `throughMs`, the end of the
 * account's last invoiced period: every period that could still use them has been invoiced.
 * In the caller's transaction; one `expire` entry and audit record per grant.
 */
export async function expireCredits(
  tx: Queryable,
  ids: IdGenerator,
  input: { accountId: string; throughMs: number; nowMs: number },
): Promise<number> {
  const { rows } = await tx.query<GrantRow>(
    `select ${GRANT_COLUMNS} from credit_grants
      where account_id = $1 and remaining_minor > 0 and voided_at is null and expires_at <= $2
      order by id for update`,
    [input.accountId, iso(input.throughMs)],
  );
  for (const grant of rows.map(toGrant)) {
    await appendEntry(tx, ids, {
      grant,
      kind: "expire",
      amountMinor: -grant.remainingMinor,
      invoiceId: null,
      nowMs: input.nowMs,
    });
    await appendAudit(tx, ids, {
      accountId: grant.accountId,
      actor: "system:invoice-run",
      action: "credit.expired",
      subjectType: "credit_grant",
      subjectId: grant.id,
      reason: `Expired ${iso(grant.expiresAtMs as number)}; every period it covered is invoiced`,
      amountMinor: grant.remainingMinor,
      currency: grant.currency,
      occurredAtMs: input.nowMs,
    });
  }
  return rows.length;
}

/** What the account meter needs to draw prepaid credit down in real time. */
export interface CreditSnapshot {
  /** Ledger entries so far: grows with every movement, so a meter keeps the newest snapshot. */
  version: number;
  currency: string;
  /** Start of the first period not invoiced yet; spend before it is already in `grants`. */
  reconciledThroughMs: number | null;
  grants: {
    id: string;
    remainingMinor: string;
    priority: number;
    effectiveAtMs: number;
    expiresAtMs: number | null;
    createdAtMs: number;
  }[];
}

/**
 * Reads the account's usable grants and invoicing position in one snapshot (repeatable read), for
 * pushing to its account meter. Null when the account does not exist.
 */
export async function loadCreditSnapshot(
  db: Database,
  accountId: string,
): Promise<CreditSnapshot | null> {
  return db.transaction(async (tx) => {
    await tx.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY");
    const account = await tx.query<{ currency: string; next: Date | null; version: string }>(
      `select a.currency, b.next_period_start as next,
              (select count(*) from credit_ledger l where l.account_id = a.id)::text as version
         from accounts a left join account_billing b on b.account_id = a.id
        where a.id = $1`,
      [accountId],
    );
    const head = account.rows[0];
    if (!head) {
      return null;
    }
    const currency = head.currency.trim();
    const grants = await tx.query<GrantRow>(
      `select ${GRANT_COLUMNS} from credit_grants
        where account_id = $1 and currency = $2 and remaining_minor > 0 and voided_at is null
        order by id`,
      [accountId, currency],
    );
    return {
      version: Number(head.version),
      currency,
      reconciledThroughMs: head.next?.getTime() ?? null,
      grants: grants.rows.map(toGrant).map((g) => ({
        id: g.id,
        remainingMinor: g.remainingMinor.toString(),
        priority: g.priority,
        effectiveAtMs: g.effectiveAtMs,
        expiresAtMs: g.expiresAtMs,
        createdAtMs: g.createdAtMs,
      })),
    };
  });
}
