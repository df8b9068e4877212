import type { AccountResource } from "../../catalogue/accounts.ts";
import { AppError } from "../../errors/index.ts";
import type { InvoiceStatus } from "../../invoicing/status.ts";
import { INVOICE_TRANSITIONS } from "../../invoicing/status.ts";
import { decodeCursor, pageArgs, sliceConnection, toConnection } from "../connection.ts";
import type { GraphQLContext } from "../context.ts";
import { enumValues } from "../scalars.ts";
import type {
  CreditGrantRecord,
  CreditMovementRecord,
  CreditNoteRecord,
} from "../sources/credits.ts";
import {
  type InvoiceLineRecord,
  type InvoiceRecord,
  type InvoiceRunRecord,
  listInvoiceRuns,
  listInvoices,
} from "../sources/invoices.ts";
import { connectionTypes, type ListArgs, money, type ResolverMap } from "./common.ts";

/** The schema of invoices, lines, runs and credits. */
export const billingTypeDefs = /* GraphQL */ `
"""draft → open → paid | uncollectible | void."""
enum InvoiceStatus { DRAFT OPEN PAID UNCOLLECTIBLE VOID }

"""At most one per account and billing period; numbered without gaps when finalized."""
type Invoice {
  id: ID!
  """Assigned at finalization; null while a draft."""
  number: String
  status: InvoiceStatus!
  account: Account
  accountId: ID!
  periodStart: DateTime!
  periodEnd: DateTime!
  currency: String!
  collectionMethod: CollectionMethod!
  netTermsDays: Int!
  poNumber: String
  subtotal: Money!
  tax: Money!
  creditsApplied: Money!
  total: Money!
  amountDue: Money!
  amountPaid: Money!
  amountRefunded: Money!
  amountCredited: Money!
  """The invoice run that produced it, when one did."""
  runId: ID
  finalizedAt: DateTime
  dueAt: DateTime
  paidAt: DateTime
  voidedAt: DateTime
  uncollectibleAt: DateTime
  createdAt: DateTime!
  updatedAt: DateTime!
  """Lines in order."""
  lines(first: Int = 50, after: String): InvoiceLineConnection
  """Corrections issued against it."""
  creditNotes(first: Int = 20, after: String): CreditNoteConnection
}

"""One line: full-precision amount, and the same rounded once to minor units."""
type InvoiceLine {
  id: ID!
  position: Int!
  """usage, base_fee, commitment, proration, credit or adjustment."""
  kind: String!
  description: String!
  meter: String
  plan: Plan
  planVersionId: ID
  tier: Int
  quantity: Decimal
  unitPrice: Decimal
  flatFee: Decimal
  """Before rounding."""
  exactAmount: Decimal!
  amount: Money!
  tax: Money!
  periodStart: DateTime!
  periodEnd: DateTime!
}

"""One run of the invoice cycle (cron, QStash schedule or admin)."""
type InvoiceRun {
  id: ID!
  trigger: String!
  """Periods that ended (plus the grace) before this instant were closed."""
  asOf: DateTime!
  graceSeconds: Int!
  accountsInitialized: Int!
  jobsEnqueued: Int!
  startedAt: DateTime!
  finishedAt: DateTime
  """Invoices this run produced so far, counted by status."""
  invoicesByStatus: [InvoiceStatusCount!]!
  invoices(first: Int = 20, after: String): InvoiceConnection
}

type InvoiceStatusCount {
  status: InvoiceStatus!
  count: Int!
}

"""Promotional or purchased credit an account may spend on its invoices."""
type CreditGrant {
  id: ID!
  kind: String!
  amount: Money!
  remaining: Money!
  priority: Int!
  effectiveAt: DateTime!
  expiresAt: DateTime
  description: String!
  voidedAt: DateTime
  createdAt: DateTime!
  """Every movement of this grant's credit, oldest first; they sum to \`remaining\`."""
  movements(first: Int = 20, after: String): CreditMovementConnection
}

"""One signed movement of credit: granted, consumed by an invoice, given back, expired, voided."""
type CreditMovement {
  id: ID!
  kind: CreditMovementKind!
  """Positive adds to the grant, negative takes from it."""
  amount: Money!
  """The invoice that consumed the credit or gave it back."""
  invoice: Invoice
  occurredAt: DateTime!
}

enum CreditMovementKind {
  GRANT
  CONSUME
  REVERSE
  EXPIRE
  VOID
}

type CreditNote {
  id: ID!
  number: String!
  reason: String!
  subtotal: Money!
  tax: Money!
  total: Money!
  appliedToDue: Money!
  creditedToBalance: Money!
  createdAt: DateTime!
}

${connectionTypes("Invoice", "InvoiceLine", "InvoiceRun", "CreditGrant", "CreditMovement", "CreditNote")}

extend type Account {
  """Newest period first."""
  invoices(first: Int = 10, after: String, status: InvoiceStatus): InvoiceConnection
  """Newest first."""
  creditGrants(first: Int = 10, after: String): CreditGrantConnection
  """Credit the account can spend now, per currency."""
  creditBalance: [Money!]
}

extend type Query {
  """An invoice by id. NOT_FOUND when there is none."""
  invoice(id: ID!): Invoice
  """Invoices newest first, optionally of one account, status or run."""
  invoices(
    first: Int = 20
    after: String
    accountId: ID
    status: InvoiceStatus
    runId: ID
  ): InvoiceConnection
  """Invoice runs newest first."""
  invoiceRuns(first: Int = 10, after: String): InvoiceRunConnection
  """The newest invoice run; null before the first."""
  latestInvoiceRun: InvoiceRun
}
`;

interface InvoiceListArgs extends ListArgs {
  accountId?: string | null;
  status?: InvoiceStatus | null;
  runId?: string | null;
}

/** A line with its invoice's currency, which every amount on it is in. */
type LineValue = InvoiceLineRecord & { currency: string };

const after = (cursor: string | null) =>
  cursor === null ? null : String(decodeCursor(cursor, ["s"])[0]);

async function invoicePage(ctx: GraphQLContext, args: InvoiceListArgs) {
  const page = pageArgs(args);
  const rows = await listInvoices(
    ctx.deps.db,
    { accountId: args.accountId ?? null, status: args.status ?? null, runId: args.runId ?? null },
    after(page.after),
    page.first + 1,
  );
  for (const invoice of rows) {
    ctx.loaders.invoice.prime(invoice.id, invoice);
  }
  return toConnection(rows, page.first, (invoice) => [invoice.id]);
}

/** Resolvers of invoices, lines, runs and credits: lib reads through the request's loaders. */
export const billingResolvers: ResolverMap = {
  InvoiceStatus: enumValues(Object.keys(INVOICE_TRANSITIONS)),
  Query: {
    invoice: async (_: unknown, args: { id: string }, ctx: GraphQLContext) =>
      (await ctx.loaders.invoice.load(args.id)) ??
      Promise.reject(
        new AppError("NOT_FOUND", `No invoice ${args.id}`, {
          detail: `No invoice has the id ${JSON.stringify(args.id)}.`,
        }),
      ),
    invoices: (_: unknown, args: InvoiceListArgs, ctx: GraphQLContext) => invoicePage(ctx, args),
    invoiceRuns: async (_: unknown, args: ListArgs, ctx: GraphQLContext) => {
      const page = pageArgs(args);
      const rows = await listInvoiceRuns(ctx.deps.db, after(page.after), page.first + 1);
      return toConnection(rows, page.first, (run) => [run.id]);
    },
    latestInvoiceRun: async (_: unknown, __: unknown, ctx: GraphQLContext) =>
      (await listInvoiceRuns(ctx.deps.db, null, 1))[0] ?? null,
  },
  Account: {
    invoices: (
      account: AccountResource,
      args: ListArgs & { status?: InvoiceStatus | null },
      ctx: GraphQLContext,
    ) =>
      ctx.loaders.invoicesOfAccount.load({
        parentId: account.id,
        ...pageArgs(args),
        filter: args.status ?? null,
      }),
    creditGrants: (account: AccountResource, args: ListArgs, ctx: GraphQLContext) =>
      ctx.loaders.creditGrantsOfAccount.load({
        parentId: account.id,
        ...pageArgs(args),
        filter: null,
      }),
    creditBalance: async (account: AccountResource, _: unknown, ctx: GraphQLContext) =>
      (await ctx.loaders.creditBalances.load(account.id)).map((b) =>
        money(b.remainingMinor, b.currency),
      ),
  },
  Invoice: {
    account: (invoice: InvoiceRecord, _: unknown, ctx: GraphQLContext) =>
      ctx.loaders.account.load(invoice.accountId),
    collectionMethod: (invoice: InvoiceRecord) => invoice.collectionMethod,
    subtotal: (i: InvoiceRecord) => money(i.subtotalMinor, i.currency),
    tax: (i: InvoiceRecord) => money(i.taxMinor, i.currency),
    creditsApplied: (i: InvoiceRecord) => money(i.creditsAppliedMinor, i.currency),
    total: (i: InvoiceRecord) => money(i.totalMinor, i.currency),
    amountDue: (i: InvoiceRecord) => money(i.amountDueMinor, i.currency),
    amountPaid: (i: InvoiceRecord) => money(i.amountPaidMinor, i.currency),
    amountRefunded: (i: InvoiceRecord) => money(i.amountRefundedMinor, i.currency),
    amountCredited: (i: InvoiceRecord) => money(i.amountCreditedMinor, i.currency),
    lines: async (invoice: InvoiceRecord, args: ListArgs, ctx: GraphQLContext) => {
      const page = await ctx.loaders.linesOfInvoice.load({
        parentId: invoice.id,
        ...pageArgs(args),
        filter: null,
      });
      const nodes: LineValue[] = page.nodes.map((line) => ({
        ...line,
        currency: invoice.currency,
      }));
      return { ...page, nodes };
    },
    creditNotes: async (invoice: InvoiceRecord, args: ListArgs, ctx: GraphQLContext) =>
      sliceConnection(await ctx.loaders.creditNotes.load(invoice.id), pageArgs(args), (n) => n.id),
  },
  InvoiceLine: {
    plan: (line: InvoiceLineRecord, _: unknown, ctx: GraphQLContext) =>
      line.planId === null ? null : ctx.loaders.plan.load(line.planId),
    exactAmount: (line: InvoiceLineRecord) => line.amount,
    amount: (line: LineValue) => money(line.amountMinor, line.currency),
    tax: (line: LineValue) => money(line.taxMinor, line.currency),
  },
  InvoiceRun: {
    invoices: (run: InvoiceRunRecord, args: InvoiceListArgs, ctx: GraphQLContext) =>
      invoicePage(ctx, { first: args.first ?? null, after: args.after ?? null, runId: run.id }),
  },
  CreditGrant: {
    amount: (g: CreditGrantRecord) => money(g.amountMinor, g.currency),
    remaining: (g: CreditGrantRecord) => money(g.remainingMinor, g.currency),
    movements: async (g: CreditGrantRecord, args: ListArgs, ctx: GraphQLContext) =>
      sliceConnection(await ctx.loaders.creditMovements.load(g.id), pageArgs(args), (m) => m.id),
  },
  CreditMovementKind: enumValues(["grant", "consume", "reverse", "expire", "void"]),
  CreditMovement: {
    amount: (m: CreditMovementRecord) => money(m.amountMinor, m.currency),
    invoice: (m: CreditMovementRecord, _: unknown, ctx: GraphQLContext) =>
      m.invoiceId === null ? null : ctx.loaders.invoice.load(m.invoiceId),
  },
  CreditNote: {
    subtotal: (n: CreditNoteRecord) => money(n.subtotalMinor, n.currency),
    tax: (n: CreditNoteRecord) => money(n.taxMinor, n.currency),
    total: (n: CreditNoteRecord) => money(n.totalMinor, n.currency),
    appliedToDue: (n: CreditNoteRecord) => money(n.appliedToDueMinor, n.currency),
    creditedToBalance: (n: CreditNoteRecord) => money(n.creditedToBalanceMinor, n.currency),
  },
};
