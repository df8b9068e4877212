import type { AccountResource } from "../../catalogue/accounts.ts";
import { listAccounts } from "../../catalogue/accounts.ts";
import { AGGREGATIONS } from "../../catalogue/meter.ts";
import { listMeters } from "../../catalogue/meters.ts";
import { parsePageRequest } from "../../catalogue/pagination.ts";
import { listPlans, type PlanResource } from "../../catalogue/plans.ts";
import { AppError } from "../../errors/index.ts";
import { fromLibPage, pageArgs, sliceConnection } from "../connection.ts";
import type { GraphQLContext } from "../context.ts";
import { enumValues } from "../scalars.ts";
import { connectionTypes, type ListArgs, type ResolverMap } from "./common.ts";

/** The schema of accounts, meters and plans. */
export const catalogueTypeDefs = /* GraphQL */ `
"""How a meter turns a period's events into one quantity."""
enum Aggregation { SUM COUNT MAX UNIQUE_COUNT LATEST TIME_WEIGHTED }

enum CollectionMethod { CHARGE_AUTOMATICALLY SEND_INVOICE }

"""A customer: who is billed, in which currency and time zone, on which plan."""
type Account {
  id: ID!
  name: String!
  email: String
  currency: String!
  timeZone: String!
  """The billing interval as configured, e.g. {"unit":"month","count":1,"anchorDay":1}."""
  billingInterval: JSON!
  collectionMethod: CollectionMethod!
  netTermsDays: Int!
  poNumber: String
  stripeCustomerId: String
  notificationUrl: String
  """Spend budget per billing period; null when the account has none."""
  spendBudget: RatedAmount
  spendAlertPercents: [Int!]!
  spendHardCap: Boolean!
  """The plan in effect now; null when the account has none yet (usage counted, unpriced)."""
  plan: Plan
  """Every plan assignment, oldest first; the last may lie in the future."""
  planSchedule(first: Int = 20, after: String): PlanAssignmentConnection
  configRevision: Int!
  createdAt: DateTime!
  updatedAt: DateTime!
}

type PlanAssignment {
  plan: Plan
  effectiveFrom: DateTime!
}

"""A platform-wide meter definition, shared by every account."""
type Meter {
  key: ID!
  name: String!
  description: String!
  aggregation: Aggregation!
  unit: String!
  valueProperty: String
  seriesProperty: String
  heartbeatTimeoutSeconds: Int
  allowNegative: Boolean!
  groupBy: [String!]!
  revision: Int!
  createdAt: DateTime!
  updatedAt: DateTime!
}

"""A price list with versions over time; each version applies until the next one."""
type Plan {
  id: ID!
  key: String!
  name: String!
  currency: String!
  createdAt: DateTime!
  """The version in effect now; null before the first takes effect."""
  currentVersion: PlanVersion
  """Every version, oldest first."""
  versions(first: Int = 20, after: String): PlanVersionConnection
}

type PlanVersion {
  id: ID!
  version: Int!
  effectiveFrom: DateTime!
  currency: String!
  baseFee: RatedAmount!
  """Price per meter key, as configured (see the catalogue API for the models)."""
  prices: JSON!
  createdAt: DateTime!
}

${connectionTypes("Account", "PlanAssignment", "Meter", "Plan", "PlanVersion")}

extend type Query {
  """An account by id. NOT_FOUND when there is none."""
  account(id: ID!): Account
  """Accounts by id."""
  accounts(first: Int = 20, after: String): AccountConnection
  """A meter by key. NOT_FOUND when there is none."""
  meter(key: ID!): Meter
  """Meters by key."""
  meters(first: Int = 20, after: String): MeterConnection
  """A plan by id. NOT_FOUND when there is none."""
  plan(id: ID!): Plan
  """Plans in creation order."""
  plans(first: Int = 20, after: String): PlanConnection
}
`;

function notFound(kind: string, id: string): AppError {
  return new AppError("NOT_FOUND", `No ${kind} ${id}`, {
    detail: `No ${kind} has the id ${JSON.stringify(id)}.`,
  });
}

/** The lib's page request for GraphQL page arguments (its cursors pass through unchanged). */
function libPage(args: ListArgs) {
  const { first, after } = pageArgs(args);
  return parsePageRequest({ limit: String(first), ...(after === null ? {} : { cursor: after }) });
}

/** Resolvers of accounts, meters and plans: lib reads through the request's loaders. */
export const catalogueResolvers: ResolverMap = {
  Aggregation: enumValues(AGGREGATIONS),
  CollectionMethod: enumValues(["charge_automatically", "send_invoice"]),
  Query: {
    account: async (_: unknown, args: { id: string }, ctx: GraphQLContext) =>
      (await ctx.loaders.account.load(args.id)) ?? Promise.reject(notFound("account", args.id)),
    accounts: async (_: unknown, args: ListArgs, ctx: GraphQLContext) => {
      const page = await listAccounts(ctx.deps.db, libPage(args), ctx.nowMs);
      for (const account of page.data) {
        ctx.loaders.account.prime(account.id, account);
      }
      return fromLibPage(page);
    },
    meter: async (_: unknown, args: { key: string }, ctx: GraphQLContext) =>
      (await ctx.loaders.meter.load(args.key)) ?? Promise.reject(notFound("meter", args.key)),
    meters: async (_: unknown, args: ListArgs, ctx: GraphQLContext) =>
      fromLibPage(await listMeters(ctx.deps.db, libPage(args))),
    plan: async (_: unknown, args: { id: string }, ctx: GraphQLContext) =>
      (await ctx.loaders.plan.load(args.id)) ?? Promise.reject(notFound("plan", args.id)),
    plans: async (_: unknown, args: ListArgs, ctx: GraphQLContext) => {
      const page = await listPlans(ctx.deps.db, libPage(args));
      for (const plan of page.data) {
        ctx.loaders.plan.prime(plan.id, plan);
      }
      return fromLibPage(page);
    },
  },
  Account: {
    spendBudget: (account: AccountResource) =>
      account.spend.budget === null
        ? null
        : { amount: account.spend.budget, currency: account.currency },
    spendAlertPercents: (account: AccountResource) => account.spend.alertPercents,
    spendHardCap: (account: AccountResource) => account.spend.hardCap,
    plan: (account: AccountResource, _: unknown, ctx: GraphQLContext) =>
      account.planId === null ? null : ctx.loaders.plan.load(account.planId),
    planSchedule: (account: AccountResource, args: ListArgs) =>
      sliceConnection(account.planSchedule, pageArgs(args), (a) => a.effectiveFrom),
  },
  PlanAssignment: {
    plan: (assignment: { planId: string }, _: unknown, ctx: GraphQLContext) =>
      ctx.loaders.plan.load(assignment.planId),
  },
  Plan: {
    currentVersion: (plan: PlanResource, _: unknown, ctx: GraphQLContext) =>
      plan.versions.filter((v) => Date.parse(v.effectiveFrom) <= ctx.nowMs).at(-1) ?? null,
    versions: (plan: PlanResource, args: ListArgs) =>
      sliceConnection(plan.versions, pageArgs(args), (v) => v.id),
  },
  PlanVersion: {
    baseFee: (version: { baseFee: string; currency: string }) => ({
      amount: version.baseFee,
      currency: version.currency,
    }),
  },
};
