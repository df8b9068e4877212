import { type AuditRecord, listAudit, verifyAuditChain } from "../../audit/audit-log.ts";
import type { AccountResource } from "../../catalogue/accounts.ts";
import { decodeCursor, pageArgs, toConnection } from "../connection.ts";
import type { GraphQLContext } from "../context.ts";
import { listAuditRecords } from "../sources/audit.ts";
import { connectionTypes, type ListArgs, money, type ResolverMap } from "./common.ts";

/** The schema of the audit log. */
export const auditTypeDefs = /* GraphQL */ `
"""
One entry of an account's append-only, hash-chained audit trail: every money movement and
state change, with who did it and why.
"""
type AuditRecord {
  id: ID!
  account: Account
  accountId: ID!
  """Position in the account's chain, from 1."""
  seq: Int!
  occurredAt: DateTime!
  """system:<job>, admin, stripe:webhook or account:<key id>."""
  actor: String!
  """A dotted verb, e.g. invoice.finalized."""
  action: String!
  subjectType: String!
  subjectId: String!
  reason: String!
  before: JSON
  after: JSON
  """Money moved by this entry, when it moved any."""
  amount: Money
  prevHash: String!
  hash: String!
}

"""The result of re-hashing an account's chain: any edit or deletion shows here."""
type AuditChainCheck {
  ok: Boolean!
  records: Int!
  headSeq: Int!
  problems: [AuditChainProblem!]!
}

type AuditChainProblem {
  seq: Int!
  """hash_mismatch, broken_link, gap or missing_tail."""
  problem: String!
}

${connectionTypes("AuditRecord")}

extend type Account {
  """Newest first (by chain position)."""
  auditRecords(first: Int = 20, after: String, action: String): AuditRecordConnection
  """Re-hashes the whole chain."""
  auditChain: AuditChainCheck
}

extend type Query {
  """
  Audit records newest first: of one account (by chain position), or of every account (by
  recording time), optionally of one action or one subject (subjectType with subjectId).
  """
  auditRecords(
    first: Int = 20
    after: String
    accountId: ID
    action: String
    subjectType: String
    subjectId: ID
  ): AuditRecordConnection
}
`;

interface AuditListArgs extends ListArgs {
  accountId?: string | null;
  action?: string | null;
  subjectType?: string | null;
  subjectId?: string | null;
}

/** Resolvers of the audit log: lib reads through the request's loaders. */
export const auditResolvers: ResolverMap = {
  Query: {
    auditRecords: async (_: unknown, args: AuditListArgs, ctx: GraphQLContext) => {
      const page = pageArgs(args);
      const filtersSubject = args.subjectType != null || args.subjectId != null;
      if (args.accountId != null && !filtersSubject) {
        // One account's chain: its own order (seq), read by lib/audit.
        const beforeSeq = page.after === null ? null : Number(decodeCursor(page.after, ["n"])[0]);
        const rows = await listAudit(ctx.deps.db, args.accountId, {
          limit: page.first + 1,
          ...(beforeSeq === null ? {} : { beforeSeq }),
          ...(args.action == null ? {} : { action: args.action }),
        });
        return toConnection(rows, page.first, (r) => [r.seq]);
      }
      const rows = await listAuditRecords(
        ctx.deps.db,
        {
          accountId: args.accountId ?? null,
          action: args.action ?? null,
          subjectType: args.subjectType ?? null,
          subjectId: args.subjectId ?? null,
        },
        page.after === null ? null : String(decodeCursor(page.after, ["s"])[0]),
        page.first + 1,
      );
      return toConnection(rows, page.first, (r) => [r.id]);
    },
  },
  Account: {
    auditRecords: (
      account: AccountResource,
      args: ListArgs & { action?: string | null },
      ctx: GraphQLContext,
    ) =>
      ctx.loaders.auditOfAccount.load({
        parentId: account.id,
        ...pageArgs(args),
        filter: args.action ?? null,
      }),
    auditChain: (account: AccountResource, _: unknown, ctx: GraphQLContext) =>
      verifyAuditChain(ctx.deps.db, account.id),
  },
  AuditRecord: {
    account: (r: AuditRecord, _: unknown, ctx: GraphQLContext) =>
      ctx.loaders.account.load(r.accountId),
    amount: (r: AuditRecord) => money(r.amountMinor, r.currency),
  },
};
