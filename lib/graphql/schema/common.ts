import { Decimal } from "../../money/decimal.ts";
import { formatMoney, fromMinorUnits } from "../../money/money.ts";
import type { GraphQLContext } from "../context.ts";
import {
  DateTimeScalar,
  DecimalScalar,
  JSONScalar,
  LongScalar,
  MinorUnitsScalar,
} from "../scalars.ts";

/** A resolver map as graphql-tools takes it; parents and arguments are typed per resolver. */
export type ResolverMap = Record<string, unknown>;

/** Page arguments as every list field takes them. */
export interface ListArgs {
  first?: number | null;
  after?: string | null;
}

/** The SDL of one connection type per node type: `<Node>Connection { nodes, pageInfo }`. */
export function connectionTypes(...nodes: string[]): string {
  return nodes
    .map(
      (node) => `
"""A page of ${node} items. Ask for the next one with \`after: pageInfo.endCursor\`."""
type ${node}Connection {
  nodes: [${node}!]!
  pageInfo: PageInfo!
}`,
    )
    .join("\n");
}

/** Integer minor units and their currency, as a Money value resolves. */
export interface MoneyValue {
  amountMinor: string;
  currency: string;
}

/** A full-precision rated amount and its currency, as a RatedAmount value resolves. */
export interface RatedValue {
  amount: string;
  currency: string;
}

/** Builds a Money value (null when either part is missing, as in an audit record). */
export function money(amountMinor: string | null, currency: string | null): MoneyValue | null {
  return amountMinor === null || currency === null ? null : { amountMinor, currency };
}

/** The schema of scalars, money, pages and the root Query. */
export const commonTypeDefs = /* GraphQL */ `
scalar DateTime
scalar Decimal
scalar MinorUnits
scalar JSON
"""A whole number up to 2^53 - 1 in magnitude (counts and durations that outgrow Int)."""
scalar Long

"""Where a page ends, and whether another follows."""
type PageInfo {
  hasNextPage: Boolean!
  """Pass as \`after\` to get the next page."""
  endCursor: String
}

"""An amount in integer minor units of its currency: what invoices and payments hold."""
type Money {
  amountMinor: MinorUnits!
  currency: String!
  """For people, e.g. \`USD 1,234.50\`."""
  formatted: String!
}

"""A rated amount at full precision (before invoice rounding) in the account's currency."""
type RatedAmount {
  amount: Decimal!
  currency: String!
  """For people, rounded to the currency's minor unit, e.g. \`USD 0.35\`."""
  formatted: String!
}

"""
meterline's internal, read-only view of billing. Admin only. Every list is a connection
(\`first\` up to 100, \`after\` a cursor); queries are limited in depth and cost.
"""
type Query {
  """The instant this answer was computed for: every real-time figure in it is as of then."""
  now: DateTime!
}
`;

/** Resolvers of scalars, money, pages and the root Query: lib reads through the request's loaders. */
export const commonResolvers: ResolverMap = {
  DateTime: DateTimeScalar,
  Decimal: DecimalScalar,
  MinorUnits: MinorUnitsScalar,
  JSON: JSONScalar,
  Long: LongScalar,
  Money: {
    formatted: (value: MoneyValue) =>
      formatMoney(fromMinorUnits(BigInt(value.amountMinor), value.currency), value.currency),
  },
  RatedAmount: {
    formatted: (value: RatedValue) => formatMoney(Decimal.from(value.amount), value.currency),
  },
  Query: {
    now: (_: unknown, __: unknown, ctx: GraphQLContext) => ctx.nowMs,
  },
};
