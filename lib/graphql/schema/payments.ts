import { AppError } from "../../errors/index.ts";
import { ATTEMPT_STATUSES, type AttemptStatus } from "../../payments/attempt-state.ts";
import {
  cursorInstant,
  decodeCursor,
  pageArgs,
  sliceConnection,
  toConnection,
} from "../connection.ts";
import type { GraphQLContext } from "../context.ts";
import { enumValues } from "../scalars.ts";
import type { InvoiceRecord } from "../sources/invoices.ts";
import {
  type DisputeRecord,
  listDisputes,
  listPayments,
  type PaymentRecord,
  type PaymentStateTotal,
  paymentTotalsByState,
} from "../sources/payments.ts";
import { connectionTypes, type ListArgs, money, type ResolverMap } from "./common.ts";

/** The schema of payment attempts and disputes. */
export const paymentTypeDefs = /* GraphQL */ `
"""
A payment attempt's state; it only moves forward:
created → unknown → requires_confirmation → processing → failed → canceled → succeeded.
UNKNOWN means the charge was sent and its answer lost (reconciliation settles it).
"""
enum PaymentStatus { CREATED UNKNOWN REQUIRES_CONFIRMATION PROCESSING FAILED CANCELED SUCCEEDED }

"""One try at collecting an invoice: one Stripe PaymentIntent, one idempotency key."""
type Payment {
  id: ID!
  invoice: Invoice
  account: Account
  accountId: ID!
  attemptNo: Int!
  status: PaymentStatus!
  """charge (we asked Stripe) or adopted (found at Stripe by reconciliation)."""
  origin: String!
  amount: Money!
  refunded: Money!
  stripePaymentIntentId: String
  stripeChargeId: String
  failureCode: String
  failureMessage: String
  createdAt: DateTime!
  updatedAt: DateTime!
  disputes(first: Int = 10, after: String): DisputeConnection
}

"""A chargeback of a payment's charge."""
type Dispute {
  id: ID!
  invoice: Invoice
  account: Account
  accountId: ID!
  amount: Money!
  reason: String!
  status: String!
  openedAt: DateTime!
  closedAt: DateTime
  updatedAt: DateTime!
}

"""Payments of one status and currency: how many, and their sum."""
type PaymentStateTotal {
  status: PaymentStatus!
  count: Int!
  amount: Money!
}

${connectionTypes("Payment", "Dispute")}

extend type Invoice {
  """Payment attempts in order."""
  payments(first: Int = 10, after: String): PaymentConnection
}

extend type Query {
  """Payment attempts newest first, optionally of one status or account."""
  payments(first: Int = 20, after: String, status: PaymentStatus, accountId: ID): PaymentConnection
  """Payment attempts created in the last \`hours\` (1 to 720), by status and currency."""
  paymentTotals(hours: Int = 24): [PaymentStateTotal!]
  """Disputes newest first; only those still open unless \`openOnly: false\`."""
  disputes(first: Int = 20, after: String, openOnly: Boolean = true): DisputeConnection
}
`;

/** Resolvers of payment attempts and disputes: lib reads through the request's loaders. */
export const paymentResolvers: ResolverMap = {
  PaymentStatus: enumValues(ATTEMPT_STATUSES),
  Query: {
    payments: async (
      _: unknown,
      args: ListArgs & { status?: AttemptStatus | null; accountId?: string | null },
      ctx: GraphQLContext,
    ) => {
      const page = pageArgs(args);
      const rows = await listPayments(
        ctx.deps.db,
        { status: args.status ?? null, accountId: args.accountId ?? null },
        page.after === null ? null : String(decodeCursor(page.after, ["s"])[0]),
        page.first + 1,
      );
      return toConnection(rows, page.first, (p) => [p.id]);
    },
    paymentTotals: (_: unknown, args: { hours: number }, ctx: GraphQLContext) => {
      if (!Number.isInteger(args.hours) || args.hours < 1 || args.hours > 720) {
        throw new AppError("BAD_USER_INPUT", "hours must be from 1 to 720", {
          detail: "hours must be from 1 to 720",
        });
      }
      return paymentTotalsByState(ctx.deps.db, ctx.nowMs - args.hours * 3_600_000);
    },
    disputes: async (_: unknown, args: ListArgs & { openOnly: boolean }, ctx: GraphQLContext) => {
      const page = pageArgs(args);
      const key = page.after === null ? null : decodeCursor(page.after, ["s", "s"]);
      const rows = await listDisputes(
        ctx.deps.db,
        args.openOnly,
        key === null ? null : [cursorInstant(key[0]), String(key[1])],
        page.first + 1,
      );
      return toConnection(rows, page.first, (d) => [d.openedAt, d.id]);
    },
  },
  Invoice: {
    payments: (invoice: InvoiceRecord, args: ListArgs, ctx: GraphQLContext) =>
      ctx.loaders.paymentsOfInvoice.load({ parentId: invoice.id, ...pageArgs(args), filter: null }),
  },
  Payment: {
    invoice: (p: PaymentRecord, _: unknown, ctx: GraphQLContext) =>
      ctx.loaders.invoice.load(p.invoiceId),
    account: (p: PaymentRecord, _: unknown, ctx: GraphQLContext) =>
      ctx.loaders.account.load(p.accountId),
    amount: (p: PaymentRecord) => money(p.amountMinor, p.currency),
    refunded: (p: PaymentRecord) => money(p.amountRefundedMinor, p.currency),
    disputes: async (p: PaymentRecord, args: ListArgs, ctx: GraphQLContext) =>
      sliceConnection(await ctx.loaders.disputes.load(p.id), pageArgs(args), (d) => d.id),
  },
  Dispute: {
    invoice: (d: DisputeRecord, _: unknown, ctx: GraphQLContext) =>
      ctx.loaders.invoice.load(d.invoiceId),
    account: (d: DisputeRecord, _: unknown, ctx: GraphQLContext) =>
      ctx.loaders.account.load(d.accountId),
    amount: (d: DisputeRecord) => money(d.amountMinor, d.currency),
  },
  PaymentStateTotal: {
    amount: (t: PaymentStateTotal) => money(t.amountMinor, t.currency),
  },
};
