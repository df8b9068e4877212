import type { AccountResource } from "../../catalogue/accounts.ts";
import type { AccountRisk } from "../../fraud/ladder.ts";
import { isRiskLevel, RISK_LEVELS, type RiskLevel, restrictionsFor } from "../../fraud/levels.ts";
import { DECISIONS } from "../../fraud/rules.ts";
import { decodeCursor, pageArgs, toConnection } from "../connection.ts";
import type { GraphQLContext } from "../context.ts";
import { enumValues } from "../scalars.ts";
import { listAccountRisks, listRiskAudit, type RiskAuditEntry } from "../sources/risk.ts";
import { connectionTypes, type ListArgs, type ResolverMap } from "./common.ts";

/** The schema of fraud decisions and throttle states. */
export const riskTypeDefs = /* GraphQL */ `
"""The throttle ladder: NORMAL → WATCH → LIMITED → SUSPENDED."""
enum RiskLevel { NORMAL WATCH LIMITED SUSPENDED }

"""allow; challenge (verify a card first); review (hold for a human); deny."""
enum RiskOutcome { ALLOW CHALLENGE REVIEW DENY }

"""Why a score or decision came out as it did: one rule that fired, or one policy."""
type RiskReason {
  rule: String!
  points: Int!
  detail: String!
  """For policies: the least strict decision they allow."""
  atLeast: RiskOutcome
}

"""One scored signup or deployment, as audited."""
type RiskDecision {
  id: ID!
  account: Account
  accountId: ID
  """signup or deployment."""
  kind: String!
  decision: RiskOutcome
  score: Int
  reasons: [RiskReason!]!
  actor: String!
  reason: String!
  at: DateTime!
}

"""Where an account stands on the throttle ladder, and why."""
type ThrottleState {
  account: Account
  accountId: ID!
  level: RiskLevel!
  score: Int!
  reasons: [RiskReason!]!
  """Null for an account never moved off NORMAL."""
  levelSince: DateTime
  """Signals before this were reviewed by an admin and no longer count."""
  baselineAt: DateTime
  updatedAt: DateTime
  restrictions: ThrottleRestrictions!
  """Level changes, newest first."""
  transitions(first: Int = 10, after: String): ThrottleTransitionConnection
}

type ThrottleRestrictions {
  """standard or restricted."""
  rateTier: String!
  """allowed, review or denied."""
  deployments: String!
  usageAccepted: Boolean!
}

type ThrottleTransition {
  id: ID!
  from: RiskLevel
  to: RiskLevel
  actor: String!
  reason: String!
  reasons: [RiskReason!]!
  at: DateTime!
}

${connectionTypes("RiskDecision", "ThrottleState", "ThrottleTransition")}

extend type Account {
  throttleState: ThrottleState
  """Newest first."""
  riskDecisions(first: Int = 10, after: String): RiskDecisionConnection
}

extend type Query {
  """Fraud decisions newest first, of one account or all."""
  riskDecisions(first: Int = 20, after: String, accountId: ID): RiskDecisionConnection
  """Accounts at one of \`levels\` (default: every level above NORMAL), most severe first."""
  throttleStates(
    first: Int = 20
    after: String
    levels: [RiskLevel!] = [WATCH, LIMITED, SUSPENDED]
  ): ThrottleStateConnection
}
`;

/** A ladder state: the stored row, or the implicit "normal, score 0" of an account without. */
function normalState(accountId: string): AccountRisk & { implicit: true } {
  return {
    accountId,
    level: "normal",
    score: 0,
    reasons: [],
    baselineAtMs: null,
    levelSinceMs: 0,
    updatedAtMs: 0,
    implicit: true,
  };
}

type StateValue = AccountRisk & { implicit?: true };

function decisionView(entry: RiskAuditEntry) {
  const after = entry.after ?? {};
  return {
    id: entry.id,
    accountId: entry.accountId,
    kind: entry.action.replace(/^decision\./, ""),
    decision: typeof after.decision === "string" ? after.decision : null,
    score: typeof after.score === "number" ? after.score : null,
    reasons: entry.reasons,
    actor: entry.actor,
    reason: entry.reason,
    at: entry.createdAt,
  };
}

function transitionView(entry: RiskAuditEntry) {
  const level = (value: unknown): RiskLevel | null => (isRiskLevel(value) ? value : null);
  return {
    id: entry.id,
    from: level(entry.before?.level),
    to: level(entry.after?.level),
    actor: entry.actor,
    reason: entry.reason,
    reasons: entry.reasons,
    at: entry.createdAt,
  };
}

const afterId = (cursor: string | null) =>
  cursor === null ? null : String(decodeCursor(cursor, ["s"])[0]);

/** Resolvers of fraud decisions and throttle states: lib reads through the request's loaders. */
export const riskResolvers: ResolverMap = {
  RiskLevel: enumValues(RISK_LEVELS),
  RiskOutcome: enumValues(DECISIONS),
  Query: {
    riskDecisions: async (
      _: unknown,
      args: ListArgs & { accountId?: string | null },
      ctx: GraphQLContext,
    ) => {
      const page = pageArgs(args);
      const rows = await listRiskAudit(
        ctx.deps.db,
        "decision",
        args.accountId ?? null,
        afterId(page.after),
        page.first + 1,
      );
      return toConnection(rows.map(decisionView), page.first, (d) => [d.id]);
    },
    throttleStates: async (
      _: unknown,
      args: ListArgs & { levels: RiskLevel[] },
      ctx: GraphQLContext,
    ) => {
      const page = pageArgs(args);
      const key = page.after === null ? null : decodeCursor(page.after, ["n", "s"]);
      const rows = await listAccountRisks(
        ctx.deps.db,
        args.levels,
        key === null ? null : [Number(key[0]), String(key[1])],
        page.first + 1,
      );
      const connection = toConnection(rows, page.first, (r) => [r.rank, r.risk.accountId]);
      return { ...connection, nodes: connection.nodes.map((r) => r.risk) };
    },
  },
  Account: {
    throttleState: async (account: AccountResource, _: unknown, ctx: GraphQLContext) =>
      (await ctx.loaders.accountRisk.load(account.id)) ?? normalState(account.id),
    riskDecisions: async (account: AccountResource, args: ListArgs, ctx: GraphQLContext) => {
      const page = await ctx.loaders.riskAuditOfAccount.load({
        parentId: account.id,
        ...pageArgs(args),
        filter: "decision",
      });
      return { ...page, nodes: page.nodes.map(decisionView) };
    },
  },
  RiskDecision: {
    account: (d: { accountId: string | null }, _: unknown, ctx: GraphQLContext) =>
      d.accountId === null ? null : ctx.loaders.account.load(d.accountId),
  },
  ThrottleState: {
    account: (s: StateValue, _: unknown, ctx: GraphQLContext) =>
      ctx.loaders.account.load(s.accountId),
    levelSince: (s: StateValue) => (s.implicit ? null : s.levelSinceMs),
    baselineAt: (s: StateValue) => s.baselineAtMs,
    updatedAt: (s: StateValue) => (s.implicit ? null : s.updatedAtMs),
    restrictions: (s: StateValue) => restrictionsFor(s.level),
    transitions: async (s: StateValue, args: ListArgs, ctx: GraphQLContext) => {
      const page = await ctx.loaders.riskAuditOfAccount.load({
        parentId: s.accountId,
        ...pageArgs(args),
        filter: "level",
      });
      return { ...page, nodes: page.nodes.map(transitionView) };
    },
  },
};
