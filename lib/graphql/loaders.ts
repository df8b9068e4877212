import DataLoader from "dataloader";
import type { AuditRecord } from "../audit/audit-log.ts";
import type { AccountResource } from "../catalogue/accounts.ts";
import type { MeterResource } from "../catalogue/meters.ts";
import type { PlanResource } from "../catalogue/plans.ts";
import type { AccountRisk } from "../fraud/ladder.ts";
import type { InvoiceStatus } from "../invoicing/status.ts";
import type { UsageQuery } from "../metering/usage.ts";
import { type AccountDrift, checkAccountDrift } from "../pipeline/drift.ts";
import { cursorInstant, decodeCursor } from "./connection.ts";
import type { GraphQLDeps, MeterUsageReply } from "./context.ts";
import { byIdLoader, groupLoader, pagedLoader } from "./paged-loader.ts";
import { auditOfAccounts } from "./sources/audit.ts";
import { readAccounts, readMeters, readPlans } from "./sources/catalogue.ts";
import {
  creditBalancesOfAccounts,
  creditGrantsOfAccounts,
  creditMovementsOfGrants,
  creditNotesOfInvoices,
} from "./sources/credits.ts";
import { invoicesOfAccounts, linesOfInvoices, readInvoices } from "./sources/invoices.ts";
import { disputesOfPayments, paymentsOfInvoices } from "./sources/payments.ts";
import { pipelineCountsOfAccounts } from "./sources/pipeline.ts";
import { type RiskAuditKind, readAccountRisks, riskAuditOfAccounts } from "./sources/risk.ts";

/** A usage read of one account's meter, as the usage loader is keyed. */
export interface UsageKey {
  accountId: string;
  query: UsageQuery;
}

const str = (cursor: string | null) =>
  cursor === null ? null : String(decodeCursor(cursor, ["s"])[0]);
const num = (cursor: string | null) =>
  cursor === null ? null : Number(decodeCursor(cursor, ["n"])[0]);

/**
 * The request's DataLoaders: every record type by id, and every list under a parent, batched so
 * a page of N parents with nested fields costs a fixed number of queries (one per table and
 * page shape), and cached so a record asked for twice in one query is read once. Built per
 * request: nothing cached outlives the answer it was read for.
 */
export function createLoaders(deps: GraphQLDeps, nowMs: number) {
  const { db } = deps;
  return {
    account: byIdLoader<AccountResource>(
      (ids) => readAccounts(db, ids, nowMs),
      (a) => a.id,
    ),
    meter: byIdLoader<MeterResource>(
      (keys) => readMeters(db, keys),
      (m) => m.key,
    ),
    plan: byIdLoader<PlanResource>(
      (ids) => readPlans(db, ids),
      (p) => p.id,
    ),
    invoice: byIdLoader(
      (ids) => readInvoices(db, ids),
      (i) => i.id,
    ),
    accountRisk: byIdLoader<AccountRisk>(
      (ids) => readAccountRisks(db, ids),
      (r) => r.accountId,
    ),
    pipelineCounts: byIdLoader(
      (ids) => pipelineCountsOfAccounts(db, ids),
      (c) => c.accountId,
    ),
    creditBalances: groupLoader(
      (ids) => creditBalancesOfAccounts(db, ids, nowMs),
      (b) => b.accountId,
    ),
    creditMovements: groupLoader(
      (ids) => creditMovementsOfGrants(db, ids),
      (m) => m.grantId,
    ),
    creditNotes: groupLoader(
      (ids) => creditNotesOfInvoices(db, ids),
      (n) => n.invoiceId,
    ),
    disputes: groupLoader(
      (ids) => disputesOfPayments(db, ids),
      (d) => d.attemptId,
    ),
    invoicesOfAccount: pagedLoader(
      (
        ids,
        {
          first,
          after,
          filter,
        }: { first: number; after: string | null; filter: InvoiceStatus | null },
      ) => {
        const key = after === null ? null : decodeCursor(after, ["s", "s"]);
        return invoicesOfAccounts(db, ids, {
          status: filter,
          after: key === null ? null : [cursorInstant(key[0]), String(key[1])],
          limit: first + 1,
        });
      },
      (invoice) => invoice.accountId,
      (invoice) => [invoice.periodStart, invoice.id],
    ),
    linesOfInvoice: pagedLoader(
      (ids, { first, after }: { first: number; after: string | null; filter: null }) =>
        linesOfInvoices(db, ids, num(after), first + 1),
      (line) => line.invoiceId,
      (line) => [line.position],
    ),
    paymentsOfInvoice: pagedLoader(
      (ids, { first, after }: { first: number; after: string | null; filter: null }) =>
        paymentsOfInvoices(db, ids, num(after), first + 1),
      (payment) => payment.invoiceId,
      (payment) => [payment.attemptNo],
    ),
    creditGrantsOfAccount: pagedLoader(
      (ids, { first, after }: { first: number; after: string | null; filter: null }) =>
        creditGrantsOfAccounts(db, ids, str(after), first + 1),
      (grant) => grant.accountId,
      (grant) => [grant.id],
    ),
    riskAuditOfAccount: pagedLoader(
      (
        ids,
        { first, after, filter }: { first: number; after: string | null; filter: RiskAuditKind },
      ) => riskAuditOfAccounts(db, filter, ids, str(after), first + 1),
      (entry) => entry.accountId ?? "",
      (entry) => [entry.id],
    ),
    auditOfAccount: pagedLoader(
      (
        ids,
        { first, after, filter }: { first: number; after: string | null; filter: string | null },
      ) => auditOfAccounts(db, ids, { action: filter, beforeSeq: num(after), limit: first + 1 }),
      (record: AuditRecord) => record.accountId,
      (record) => [record.seq],
    ),
    // The meter calls below are one RPC per account (each account is its own Durable Object);
    // the loaders send them concurrently and never twice for the same question.
    usage: new DataLoader<UsageKey, MeterUsageReply, string>(
      (keys) =>
        Promise.all(
          keys.map((key) =>
            deps
              .meterFor(key.accountId)
              .usage(key.accountId, key.query, null)
              .catch((error: unknown) =>
                error instanceof Error ? error : new Error(String(error)),
              ),
          ),
        ),
      { cacheKeyFn: (key) => JSON.stringify([key.accountId, key.query]) },
    ),
    outbox: new DataLoader<string, { outboxRows: number; oldestCreatedMs: number | null }>((ids) =>
      Promise.all(
        ids.map((id) =>
          deps
            .meterFor(id)
            .pipelineState()
            .catch((error: unknown) => (error instanceof Error ? error : new Error(String(error)))),
        ),
      ),
    ),
    drift: new DataLoader<string, AccountDrift>((ids) =>
      Promise.all(
        ids.map((id) =>
          checkAccountDrift(
            { meter: deps.meterFor(id), db, clickhouse: deps.clickhouse, clock: deps.clock },
            id,
            null,
          ),
        ),
      ),
    ),
  };
}

/** The loaders of one request (see createLoaders). */
export type Loaders = ReturnType<typeof createLoaders>;
