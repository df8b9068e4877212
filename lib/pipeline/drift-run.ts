import type { ClickHouseClient } from "@clickhouse/client-web";
import type { Queryable } from "../adapters/postgres.ts";
import type { Clock } from "../clock/clock.ts";
import { accountsToCheck } from "../ledger/activity.ts";
import type { Logger } from "../log/logger.ts";
import { type AccountDrift, checkAccountDrift, type MeterReader } from "./drift.ts";

/** Accounts count as recently active when the ledger received a batch of theirs this recently. */
export const DRIFT_ACTIVE_WINDOW_MS = 60 * 60_000;
/**
 * Accounts one scheduled run checks at most (troubled ones first). Each costs two meter RPCs
 * per period plus five small queries, so a run stays within seconds; at a 5-minute cadence
 * that covers 600 accounts an hour.
 */
export const DRIFT_MAX_ACCOUNTS_PER_RUN = 50;
/** Accounts checked at the same time, to bound connections and meter load. */
const CONCURRENCY = 4;

/** The rated-usage queue's own backlog, as the queue reports it. */
export interface QueueBacklog {
  backlogCount: number;
  backlogBytes: number;
  oldestMessageMs: number | null;
}

export interface DriftRunDeps {
  db: Queryable;
  clickhouse: ClickHouseClient;
  clock: Clock;
  log: Logger;
  meterFor(accountId: string): MeterReader;
  /** The queue's metrics; null-returning or throwing when the runtime cannot tell. */
  queueBacklog(): Promise<QueueBacklog | null>;
}

export interface DriftRunReport {
  checkedAtMs: number;
  accounts: AccountDrift[];
  queue: QueueBacklog | null;
  /** Accounts with at least one mismatch; accounts not clean (mismatch, lag or error). */
  mismatchedAccounts: number;
  uncleanAccounts: number;
}

/**
 * The scheduled drift check: picks at most DRIFT_MAX_ACCOUNTS_PER_RUN accounts (those with
 * retrying batches or pending dead letters first, then the recently active), compares each
 * one's newest periods across the meter, Postgres and ClickHouse, and logs one warning per
 * account with a mismatch plus one summary line. Read-only. Throws only when the list of
 * accounts cannot be read from Postgres.
 */
export async function runDriftCheck(deps: DriftRunDeps): Promise<DriftRunReport> {
  const startedMs = deps.clock.nowMs();
  const accountIds = await accountsToCheck(
    deps.db,
    startedMs - DRIFT_ACTIVE_WINDOW_MS,
    DRIFT_MAX_ACCOUNTS_PER_RUN,
  );
  const queue = await deps.queueBacklog().catch((error: unknown) => {
    deps.log.warn("queue backlog unavailable", { error });
    return null;
  });
  const accounts: AccountDrift[] = [];
  for (let i = 0; i < accountIds.length; i += CONCURRENCY) {
    const slice = accountIds.slice(i, i + CONCURRENCY);
    accounts.push(
      ...(await Promise.all(
        slice.map((accountId) =>
          checkAccountDrift(
            {
              meter: deps.meterFor(accountId),
              db: deps.db,
              clickhouse: deps.clickhouse,
              clock: deps.clock,
            },
            accountId,
            null,
          ),
        ),
      )),
    );
  }
  for (const drift of accounts) {
    if (drift.mismatches === 0) {
      continue;
    }
    const { lag } = drift;
    // A difference while batches are still on their way is expected; one without is drift.
    const explained = lag.outboxRows + lag.retryingBatches + lag.pendingDeadLetters > 0;
    const fields = {
      accountId: drift.accountId,
      mismatches: drift.rows.filter(
        (row) => row.postgresMatches === false || row.clickhouseMatches === false,
      ),
      lag,
    };
    if (explained) {
      deps.log.info("drift check: sinks behind the account meter (in flight)", fields);
    } else {
      deps.log.warn("drift: sinks differ from the account meter with nothing in flight", fields);
    }
  }
  const report: DriftRunReport = {
    checkedAtMs: startedMs,
    accounts,
    queue,
    mismatchedAccounts: accounts.filter((a) => a.mismatches > 0).length,
    uncleanAccounts: accounts.filter((a) => !a.clean).length,
  };
  deps.log.info("drift check", {
    accounts: accounts.length,
    mismatchedAccounts: report.mismatchedAccounts,
    uncleanAccounts: report.uncleanAccounts,
    outboxRows: accounts.reduce((n, a) => n + a.lag.outboxRows, 0),
    retryingBatches: accounts.reduce((n, a) => n + a.lag.retryingBatches, 0),
    pendingDeadLetters: accounts.reduce((n, a) => n + a.lag.pendingDeadLetters, 0),
    queueBacklog: queue?.backlogCount ?? null,
    durationMs: deps.clock.nowMs() - startedMs,
  });
  return report;
}
