import type { AccountResource } from "../../catalogue/accounts.ts";
import { AppError } from "../../errors/index.ts";
import { accountsToCheck } from "../../ledger/activity.ts";
import {
  type DeadLetter,
  type DeadLetterStatus,
  listDeadLetters,
  pendingDeadLetters,
} from "../../ledger/dead-letters.ts";
import type { AccountDrift, DriftRow } from "../../pipeline/drift.ts";
import { DRIFT_ACTIVE_WINDOW_MS, runDriftCheck } from "../../pipeline/drift-run.ts";
import { decodeCursor, pageArgs, sliceConnection, toConnection } from "../connection.ts";
import type { GraphQLContext } from "../context.ts";
import { enumValues } from "../scalars.ts";
import { ledgerLag, newestAccounts, retryingOverall } from "../sources/pipeline.ts";
import { connectionTypes, type ListArgs, type ResolverMap } from "./common.ts";

/** The schema of dead letters, pipeline health and drift. */
export const pipelineTypeDefs = /* GraphQL */ `
enum DeadLetterReason { INVALID_BODY RETRIES_EXHAUSTED }
enum DeadLetterStatus { PENDING REPLAYED ALL }

"""A queue message no consumer could apply, kept for humans (and replay)."""
type DeadLetter {
  id: ID!
  messageId: String!
  queue: String!
  reason: DeadLetterReason!
  batchId: String
  account: Account
  accountId: ID
  errorCode: String!
  error: String!
  attempts: Int
  lastFailedAt: DateTime
  deadAt: DateTime!
  replayedAt: DateTime
  replays: Int!
  """The message body as JSON text: what a replay sends again."""
  body: String!
}

"""How the rated-usage pipeline is doing, from the meters' outboxes to the ledger."""
type PipelineHealth {
  checkedAt: DateTime!
  outbox: OutboxDepth!
  """The rated-usage queue's backlog; null where the runtime does not report it."""
  queue: QueueBacklog
  deadLetters: DeadLetterSummary!
  retrying: RetrySummary!
  ledgerLag: LedgerLag!
}

"""
Rows waiting in account meters' outboxes. Summed over at most 50 accounts: those with retrying
batches or dead letters, then those the ledger heard from in the last hour, then the newest.
"""
type OutboxDepth {
  accountsChecked: Int!
  rows: Int!
  oldestCreatedAt: DateTime
  """Meters that did not answer (counted as unknown, not as zero)."""
  unreachable: Int!
}

type QueueBacklog {
  backlogCount: Int!
  backlogBytes: Long!
  oldestMessageAt: DateTime
}

type DeadLetterSummary {
  pending: Int!
  oldestDeadAt: DateTime
}

type RetrySummary {
  """Batches the consumer failed to land and will retry."""
  batches: Int!
  oldestFailedAt: DateTime
}

"""From a meter sending a batch to the ledger applying it, over the last 15 minutes."""
type LedgerLag {
  windowMinutes: Int!
  batches: Int!
  events: Long!
  maxLagMs: Long
  avgLagMs: Long
  lastReceivedAt: DateTime
}

"""One account's share of the pipeline."""
type AccountPipeline {
  outboxRows: Int!
  oldestOutboxAt: DateTime
  retryingBatches: Int!
  pendingDeadLetters: Int!
}

"""The account meter's totals against the Postgres ledger's and ClickHouse's."""
type DriftReport {
  account: Account
  accountId: ID!
  checkedAt: DateTime!
  """No mismatch, nothing in flight, every source read: drained and exact."""
  clean: Boolean!
  mismatches: Int!
  """Sources that could not be read."""
  errors: [String!]!
  lag: DriftLag!
  rows(first: Int = 20, after: String): DriftRowConnection
}

"""Work still on its way to the sinks, which explains a difference while it lasts."""
type DriftLag {
  outboxRows: Int!
  oldestOutboxAt: DateTime
  retryingBatches: Int!
  oldestRetryFailedAt: DateTime
  pendingDeadLetters: Int!
  oldestDeadLetterAt: DateTime
}

type DriftRow {
  meter: String!
  periodStart: DateTime!
  durableObject: DriftTotals!
  postgres: DriftTotals
  clickhouse: DriftTotals
  postgresMatches: Boolean
  clickhouseMatches: Boolean
}

type DriftTotals {
  quantity: Decimal!
  amount: Decimal!
  events: Long!
}

"""The scheduled drift check, run now: up to 50 accounts, troubled and recently active first."""
type DriftRun {
  checkedAt: DateTime!
  queue: QueueBacklog
  mismatchedAccounts: Int!
  uncleanAccounts: Int!
  accounts(first: Int = 20, after: String): DriftReportConnection
}

${connectionTypes("DeadLetter", "DriftReport", "DriftRow")}

extend type Account {
  pipeline: AccountPipeline
  """Compares this account's newest two periods across the meter, Postgres and ClickHouse."""
  drift: DriftReport
}

extend type Query {
  """Dead letters oldest first; pending (not replayed) unless told otherwise."""
  deadLetters(
    first: Int = 20
    after: String
    status: DeadLetterStatus = PENDING
    accountId: ID
  ): DeadLetterConnection
  pipelineHealth: PipelineHealth
  """One account's drift report. NOT_FOUND when the account does not exist."""
  drift(accountId: ID!): DriftReport
  """The drift check over recently active and troubled accounts."""
  driftCheck: DriftRun
}
`;

/** Accounts whose outboxes the health view sums, at most this many. */
const OUTBOX_ACCOUNTS = 50;
/** The window the ledger lag is measured over. */
const LAG_WINDOW_MS = 15 * 60_000;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function backlogView(
  queue: { backlogCount: number; backlogBytes: number; oldestMessageMs: number | null } | null,
) {
  return (
    queue && {
      backlogCount: queue.backlogCount,
      backlogBytes: queue.backlogBytes,
      oldestMessageAt: iso(queue.oldestMessageMs),
    }
  );
}

async function outboxDepth(ctx: GraphQLContext) {
  const { db } = ctx.deps;
  const [troubled, newest] = await Promise.all([
    accountsToCheck(db, ctx.nowMs - DRIFT_ACTIVE_WINDOW_MS, OUTBOX_ACCOUNTS),
    newestAccounts(db, OUTBOX_ACCOUNTS),
  ]);
  const ids = [...new Set([...troubled, ...newest])].slice(0, OUTBOX_ACCOUNTS);
  const states = await Promise.all(ids.map((id) => ctx.loaders.outbox.load(id).catch(() => null)));
  let rows = 0;
  let oldest: number | null = null;
  let unreachable = 0;
  for (const state of states) {
    if (state === null) {
      unreachable += 1;
      continue;
    }
    rows += state.outboxRows;
    if (state.oldestCreatedMs !== null && (oldest === null || state.oldestCreatedMs < oldest)) {
      oldest = state.oldestCreatedMs;
    }
  }
  return { accountsChecked: ids.length, rows, oldestCreatedAt: iso(oldest), unreachable };
}

function driftView(drift: AccountDrift) {
  const { lag } = drift;
  return {
    accountId: drift.accountId,
    checkedAt: drift.checkedAtMs,
    clean: drift.clean,
    mismatches: drift.mismatches,
    errors: drift.errors,
    lag: {
      outboxRows: lag.outboxRows,
      oldestOutboxAt: iso(lag.oldestOutboxMs),
      retryingBatches: lag.retryingBatches,
      oldestRetryFailedAt: iso(lag.oldestRetryFailedMs),
      pendingDeadLetters: lag.pendingDeadLetters,
      oldestDeadLetterAt: iso(lag.oldestDeadLetterMs),
    },
    allRows: drift.rows,
  };
}

type DriftValue = ReturnType<typeof driftView>;

/** Resolvers of dead letters, pipeline health and drift: lib reads through the request's loaders. */
export const pipelineResolvers: ResolverMap = {
  DeadLetterReason: enumValues(["invalid_body", "retries_exhausted"]),
  DeadLetterStatus: enumValues(["pending", "replayed", "all"]),
  Query: {
    deadLetters: async (
      _: unknown,
      args: ListArgs & { status: DeadLetterStatus; accountId?: string | null },
      ctx: GraphQLContext,
    ) => {
      const page = pageArgs(args);
      const rows = await listDeadLetters(ctx.deps.db, {
        status: args.status,
        limit: page.first + 1,
        ...(page.after === null ? {} : { after: String(decodeCursor(page.after, ["s"])[0]) }),
        ...(args.accountId == null ? {} : { accountId: args.accountId }),
      });
      return toConnection(rows, page.first, (d) => [d.id]);
    },
    pipelineHealth: async (_: unknown, __: unknown, ctx: GraphQLContext) => {
      const { db } = ctx.deps;
      const [outbox, queue, dead, retrying, lag] = await Promise.all([
        outboxDepth(ctx),
        ctx.deps.queueBacklog().catch(() => null),
        pendingDeadLetters(db, null),
        retryingOverall(db),
        ledgerLag(db, ctx.nowMs, LAG_WINDOW_MS),
      ]);
      return {
        checkedAt: ctx.nowMs,
        outbox,
        queue: backlogView(queue),
        deadLetters: { pending: dead.count, oldestDeadAt: iso(dead.oldestDeadAtMs) },
        retrying: { batches: retrying.batches, oldestFailedAt: iso(retrying.oldestFailedAtMs) },
        ledgerLag: { ...lag, windowMinutes: Math.round(lag.windowMs / 60_000) },
      };
    },
    drift: async (_: unknown, args: { accountId: string }, ctx: GraphQLContext) => {
      if ((await ctx.loaders.account.load(args.accountId)) === null) {
        throw new AppError("NOT_FOUND", `No account ${args.accountId}`, {
          detail: `No account has the id ${JSON.stringify(args.accountId)}.`,
        });
      }
      return driftView(await ctx.loaders.drift.load(args.accountId));
    },
    driftCheck: async (_: unknown, __: unknown, ctx: GraphQLContext) => {
      const report = await runDriftCheck({
        db: ctx.deps.db,
        clickhouse: ctx.deps.clickhouse,
        clock: ctx.deps.clock,
        log: ctx.deps.log,
        meterFor: (id) => ctx.deps.meterFor(id),
        queueBacklog: () => ctx.deps.queueBacklog(),
      });
      return {
        checkedAt: report.checkedAtMs,
        queue: backlogView(report.queue),
        mismatchedAccounts: report.mismatchedAccounts,
        uncleanAccounts: report.uncleanAccounts,
        reports: report.accounts.map(driftView),
      };
    },
  },
  DriftRun: {
    accounts: (run: { reports: DriftValue[] }, args: ListArgs) =>
      sliceConnection(run.reports, pageArgs(args), (r) => r.accountId),
  },
  DriftReport: {
    account: (drift: DriftValue, _: unknown, ctx: GraphQLContext) =>
      ctx.loaders.account.load(drift.accountId),
    rows: (drift: DriftValue, args: ListArgs) =>
      sliceConnection(drift.allRows, pageArgs(args), (row: DriftRow) =>
        JSON.stringify([row.meter, row.periodStartMs]),
      ),
  },
  DriftRow: {
    periodStart: (row: DriftRow) => row.periodStartMs,
  },
  DeadLetter: {
    account: (d: DeadLetter, _: unknown, ctx: GraphQLContext) =>
      d.accountId === null ? null : ctx.loaders.account.load(d.accountId),
    lastFailedAt: (d: DeadLetter) => d.lastFailedAtMs,
    deadAt: (d: DeadLetter) => d.deadAtMs,
    replayedAt: (d: DeadLetter) => d.replayedAtMs,
  },
  Account: {
    pipeline: async (account: AccountResource, _: unknown, ctx: GraphQLContext) => {
      const [outbox, counts] = await Promise.all([
        ctx.loaders.outbox.load(account.id),
        ctx.loaders.pipelineCounts.load(account.id),
      ]);
      return {
        outboxRows: outbox.outboxRows,
        oldestOutboxAt: iso(outbox.oldestCreatedMs),
        retryingBatches: counts?.retryingBatches ?? 0,
        pendingDeadLetters: counts?.pendingDeadLetters ?? 0,
      };
    },
    drift: async (account: AccountResource, _: unknown, ctx: GraphQLContext) =>
      driftView(await ctx.loaders.drift.load(account.id)),
  },
};
