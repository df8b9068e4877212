import { wrapClickHouseError } from "../../analytics/errors.ts";
import {
  GRANULARITY_SECONDS,
  type Granularity,
  type HistoryRow,
  MAX_HISTORY_BUCKETS,
  queryHistory,
} from "../../analytics/history.ts";
import type { AccountResource } from "../../catalogue/accounts.ts";
import { AppError } from "../../errors/index.ts";
import type { MeterUsage, UsageQuery } from "../../metering/usage.ts";
import { pageArgs, sliceConnection } from "../connection.ts";
import type { GraphQLContext, MeterUsageReply } from "../context.ts";
import { enumValues } from "../scalars.ts";
import { connectionTypes, type ListArgs, type ResolverMap } from "./common.ts";

/** The schema of real-time usage and usage history. */
export const usageTypeDefs = /* GraphQL */ `
enum Granularity { MINUTE HOUR DAY }

"""
One billing period's usage, read from the account's meter (a Durable Object) at the moment of
the query: exact, because every accepted event is in its totals the moment it is accepted.
"""
type Usage {
  periodStart: DateTime!
  periodEnd: DateTime!
  """Sealed periods accept no more events (the invoice run closed them)."""
  sealed: Boolean!
  """Rated amount of the period so far across meters, full precision."""
  amount: RatedAmount!
  spend: Spend!
  meters(first: Int = 20, after: String): MeterUsageConnection
}

type Spend {
  spent: RatedAmount!
  budget: RatedAmount
  """True when the hard cap was reached: further usage is refused this period."""
  capped: Boolean!
  alertedPercents: [Int!]!
}

"""One meter's usage in the period: quantity, rated amount and per-minute buckets."""
type MeterUsage {
  meter: Meter
  key: String!
  name: String!
  unit: String!
  aggregation: Aggregation!
  quantity: Decimal!
  amount: RatedAmount!
  events: Long!
  """Per pricing segment (a plan version's window inside the period)."""
  segments: [UsageSegment!]!
  """Minute buckets of the window asked for on \`usage\`, oldest first; empty minutes omitted."""
  buckets(first: Int = 60, after: String): UsageBucketConnection
}

type UsageSegment {
  segment: String!
  quantity: Decimal!
  amount: RatedAmount!
  events: Long!
}

type UsageBucket {
  """Start of the minute (UTC)."""
  minute: DateTime!
  quantity: Decimal!
  events: Long!
}

"""Accepted events per time bucket and meter, from ClickHouse (each event counted once)."""
type UsageHistoryBucket {
  start: DateTime!
  meter: String!
  """The \`groupBy\` property's value; null when not grouping or the event lacks it."""
  group: String
  events: Long!
  valueSum: Decimal
  valueMax: Decimal
}

type UsageHistoryBucketConnection {
  nodes: [UsageHistoryBucket!]!
  pageInfo: PageInfo!
  """True when the window held more rows than one history query returns (10,000)."""
  truncated: Boolean!
}

${connectionTypes("MeterUsage", "UsageBucket")}

extend type Account {
  """
  Real-time usage of the period containing \`at\` (default now), from the account's meter.
  Minute buckets cover [bucketsFrom, bucketsTo) (default: the last 60 minutes; at most a day).
  Null when the meter does not know the account.
  """
  usage(at: DateTime, meters: [String!], bucketsFrom: DateTime, bucketsTo: DateTime): Usage
  """Usage history from ClickHouse over [from, to), in UTC-aligned buckets."""
  usageHistory(
    from: DateTime!
    to: DateTime!
    granularity: Granularity = HOUR
    meters: [String!]
    groupBy: String
    first: Int = 100
    after: String
  ): UsageHistoryBucketConnection
}
`;

/** Most meter keys one usage or history field may name. */
const MAX_METERS = 20;

interface UsageArgs {
  at?: number | null;
  meters?: string[] | null;
  bucketsFrom?: number | null;
  bucketsTo?: number | null;
}

interface UsageValue {
  reply: Extract<MeterUsageReply, { status: "ok" }>;
}

type MeterUsageValue = MeterUsage & { currency: string };

function badInput(message: string): AppError {
  return new AppError("BAD_USER_INPUT", message, { detail: message });
}

function usageQuery(args: UsageArgs): UsageQuery {
  const query: UsageQuery = {};
  if (args.at != null) {
    query.atMs = args.at;
  }
  if (args.meters != null) {
    if (args.meters.length > MAX_METERS) {
      throw badInput(`name at most ${MAX_METERS} meters`);
    }
    query.meters = args.meters;
  }
  if (args.bucketsFrom != null) {
    query.bucketsFromMs = args.bucketsFrom;
  }
  if (args.bucketsTo != null) {
    query.bucketsToMs = args.bucketsTo;
  }
  if (
    query.bucketsFromMs !== undefined &&
    query.bucketsToMs !== undefined &&
    query.bucketsToMs <= query.bucketsFromMs
  ) {
    throw badInput("bucketsTo must be after bucketsFrom");
  }
  return query;
}

async function readUsage(
  account: AccountResource,
  args: UsageArgs,
  ctx: GraphQLContext,
): Promise<UsageValue | null> {
  const reply = await ctx.loaders.usage.load({ accountId: account.id, query: usageQuery(args) });
  switch (reply.status) {
    case "ok":
      return { reply };
    case "unknown_account":
    case "unauthenticated":
      return null;
    case "unavailable":
      throw new AppError("DEPENDENCY_UNAVAILABLE", "Usage is temporarily unavailable", {
        detail: reply.detail,
        retryAfterSeconds: 2,
      });
  }
}

interface HistoryArgs extends ListArgs {
  from: number;
  to: number;
  granularity: Granularity;
  meters?: string[] | null;
  groupBy?: string | null;
}

function historyKey(row: HistoryRow): string {
  return JSON.stringify([row.startMs, row.meter, row.group]);
}

/** Resolvers of real-time usage and usage history: lib reads through the request's loaders. */
export const usageResolvers: ResolverMap = {
  Granularity: enumValues(Object.keys(GRANULARITY_SECONDS)),
  Account: {
    usage: (account: AccountResource, args: UsageArgs, ctx: GraphQLContext) =>
      readUsage(account, args, ctx),
    usageHistory: async (account: AccountResource, args: HistoryArgs, ctx: GraphQLContext) => {
      const page = pageArgs(args);
      if (args.to <= args.from) {
        throw badInput("to must be after from");
      }
      const buckets = Math.ceil(
        (args.to - args.from) / (GRANULARITY_SECONDS[args.granularity] * 1000),
      );
      if (buckets > MAX_HISTORY_BUCKETS) {
        throw badInput(`the window spans ${buckets} buckets; at most ${MAX_HISTORY_BUCKETS}`);
      }
      const meters = args.meters ?? [];
      if (meters.length > MAX_METERS) {
        throw badInput(`name at most ${MAX_METERS} meters`);
      }
      const result = await queryHistory(ctx.deps.clickhouse, {
        accountId: account.id,
        fromMs: args.from,
        toMs: args.to,
        granularity: args.granularity,
        meters,
        groupBy: args.groupBy ?? null,
      }).catch((error: unknown) => {
        throw wrapClickHouseError(error);
      });
      return { ...sliceConnection(result.rows, page, historyKey), truncated: result.truncated };
    },
  },
  Usage: {
    periodStart: (u: UsageValue) => u.reply.report.period.startMs,
    periodEnd: (u: UsageValue) => u.reply.report.period.endMs,
    sealed: (u: UsageValue) => u.reply.report.period.sealed,
    amount: (u: UsageValue) => ({
      amount: u.reply.report.amount,
      currency: u.reply.report.currency,
    }),
    spend: (u: UsageValue) => {
      const { currency } = u.reply.report;
      const { spend } = u.reply;
      return {
        spent: { amount: spend.spent, currency },
        budget: spend.budget === null ? null : { amount: spend.budget, currency },
        capped: spend.capped,
        alertedPercents: spend.alertedPercents,
      };
    },
    meters: (u: UsageValue, args: ListArgs) =>
      sliceConnection(
        u.reply.report.meters.map(
          (m): MeterUsageValue => ({ ...m, currency: u.reply.report.currency }),
        ),
        pageArgs(args),
        (m) => m.key,
      ),
  },
  MeterUsage: {
    meter: (m: MeterUsageValue, _: unknown, ctx: GraphQLContext) => ctx.loaders.meter.load(m.key),
    amount: (m: MeterUsageValue) => ({ amount: m.amount, currency: m.currency }),
    segments: (m: MeterUsageValue) =>
      m.segments.map((s) => ({ ...s, amount: { amount: s.amount, currency: m.currency } })),
    buckets: (m: MeterUsageValue, args: ListArgs) =>
      sliceConnection(
        m.buckets.map((b) => ({ minute: b.minuteMs, quantity: b.quantity, events: b.events })),
        pageArgs(args),
        (b) => String(b.minute),
      ),
  },
  UsageHistoryBucket: {
    start: (row: HistoryRow) => row.startMs,
  },
};
