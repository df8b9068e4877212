import { createRoute, z } from "@hono/zod-openapi";
import { openClickHouse } from "../../lib/adapters/clickhouse.ts";
import type { Database } from "../../lib/adapters/postgres.ts";
import { openDatabase } from "../../lib/adapters/postgres.ts";
import type { Clock } from "../../lib/clock/clock.ts";
import type { Config } from "../../lib/env/config.ts";
import { AppError } from "../../lib/errors/index.ts";
import { KEY_PATTERN } from "../../lib/ingest/event.ts";
import { parseRfc3339 } from "../../lib/ingest/time.ts";
import type { Logger } from "../../lib/log/logger.ts";
import { type AccountDrift, checkAccountDrift } from "../../lib/pipeline/drift.ts";
import {
  type DriftRunDeps,
  type QueueBacklog,
  runDriftCheck,
} from "../../lib/pipeline/drift-run.ts";
import { meterFor } from "../meters.ts";
import { authenticate } from "../middleware/auth.ts";
import { BEARER, createRouter, problemResponses } from "../openapi.ts";

/** Periods the meter is asked about when resolving `period` to the period containing it. */
const PERIOD_LOOKUP_LIMIT = 500;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The rated-usage queue's backlog as the runtime reports it, or null where it cannot. */
async function queueBacklog(env: Env): Promise<QueueBacklog | null> {
  const metrics = await env.RATED_USAGE.metrics();
  return {
    backlogCount: metrics.backlogCount,
    backlogBytes: metrics.backlogBytes,
    oldestMessageMs: metrics.oldestMessageTimestamp
      ? new Date(metrics.oldestMessageTimestamp).getTime()
      : null,
  };
}

/** The drift check's dependencies for one invocation. */
export function driftDeps(
  env: Env,
  config: Config,
  db: Database,
  clock: Clock,
  log: Logger,
): DriftRunDeps {
  return {
    db,
    clickhouse: openClickHouse(config.clickhouse),
    clock,
    log,
    meterFor: (accountId) => meterFor(env, accountId),
    queueBacklog: () => queueBacklog(env),
  };
}

const TotalsSchema = z.object({ quantity: z.string(), amount: z.string(), events: z.number() });

const AccountDriftSchema = z.object({
  account: z.string(),
  clean: z.boolean().openapi({ description: "No mismatch, nothing in flight, all sources read" }),
  mismatches: z.number().int(),
  errors: z.array(z.string()),
  lag: z.object({
    outboxRows: z.number().int(),
    oldestOutboxAt: z.string().nullable(),
    retryingBatches: z.number().int(),
    oldestRetryFailedAt: z.string().nullable(),
    pendingDeadLetters: z.number().int(),
    oldestDeadLetterAt: z.string().nullable(),
  }),
  rows: z.array(
    z.object({
      meter: z.string(),
      periodStart: z.string(),
      durableObject: TotalsSchema,
      postgres: TotalsSchema.nullable(),
      clickhouse: TotalsSchema.nullable(),
      postgresMatches: z.boolean().nullable(),
      clickhouseMatches: z.boolean().nullable(),
    }),
  ),
});

const DriftSchema = z
  .object({
    checkedAt: z.string(),
    queue: z
      .object({
        backlogCount: z.number().int(),
        backlogBytes: z.number().int(),
        oldestMessageAt: z.string().nullable(),
      })
      .nullable(),
    accounts: z.array(AccountDriftSchema),
  })
  .openapi("Drift");

function view(drift: AccountDrift) {
  return {
    account: drift.accountId,
    clean: drift.clean,
    mismatches: drift.mismatches,
    errors: drift.errors,
    lag: {
      outboxRows: drift.lag.outboxRows,
      oldestOutboxAt: iso(drift.lag.oldestOutboxMs),
      retryingBatches: drift.lag.retryingBatches,
      oldestRetryFailedAt: iso(drift.lag.oldestRetryFailedMs),
      pendingDeadLetters: drift.lag.pendingDeadLetters,
      oldestDeadLetterAt: iso(drift.lag.oldestDeadLetterMs),
    },
    rows: drift.rows.map((row) => ({
      meter: row.meter,
      periodStart: iso(row.periodStartMs) as string,
      durableObject: row.durableObject,
      postgres: row.postgres,
      clickhouse: row.clickhouse,
      postgresMatches: row.postgresMatches,
      clickhouseMatches: row.clickhouseMatches,
    })),
  };
}

/** `GET /v1/admin/drift`: the drift check on demand. */
export const driftRoutes = createRouter();
driftRoutes.use("/v1/admin/drift", authenticate({ adminOnly: true }));

driftRoutes.openapi(
  createRoute({
    method: "get",
    path: "/v1/admin/drift",
    summary: "Compare the meter, the ledger and analytics",
    description:
      "Per account, meter and period: the account meter's totals, the Postgres ledger's and " +
      "ClickHouse's, whether each sink matches, and the pipeline lag that explains a difference " +
      "while batches are in flight (outbox, retrying batches, dead letters, queue backlog). With " +
      "`account`, checks that account (its newest periods, or the one containing `period`); " +
      "without, runs the scheduled check over recently active accounts.",
    security: BEARER,
    request: {
      query: z.object({
        account: z.string().optional(),
        period: z.string().optional().openapi({ description: "An RFC 3339 instant in the period" }),
      }),
    },
    responses: {
      200: { description: "Drift", content: { "application/json": { schema: DriftSchema } } },
      ...problemResponses(400, 401, 403, 503),
    },
  }),
  async (c) => {
    const query = c.req.valid("query");
    const config = c.get("config");
    const db = openDatabase(config.database, { max: 2 });
    try {
      const deps = driftDeps(c.env, config, db, c.get("clock"), c.get("log"));
      if (query.account === undefined) {
        if (query.period !== undefined) {
          throw new AppError("INVALID_QUERY", "period needs account", {
            detail: "Name the account whose period to check.",
          });
        }
        const report = await runDriftCheck(deps);
        return c.json(
          {
            checkedAt: iso(report.checkedAtMs) as string,
            queue: report.queue && {
              backlogCount: report.queue.backlogCount,
              backlogBytes: report.queue.backlogBytes,
              oldestMessageAt: iso(report.queue.oldestMessageMs),
            },
            accounts: report.accounts.map(view),
          },
          200,
        );
      }
      const accountId = query.account;
      if (!KEY_PATTERN.test(accountId)) {
        throw new AppError("INVALID_QUERY", "account is invalid", {
          detail: `An account id matches ${KEY_PATTERN.source}.`,
        });
      }
      const meter = deps.meterFor(accountId);
      let periods: number[] | null = null;
      if (query.period !== undefined) {
        const atMs = parseRfc3339(query.period);
        if (atMs === null) {
          throw new AppError("INVALID_QUERY", "period is not an RFC 3339 instant", {
            detail: "Give an instant inside the period, e.g. 2026-12-04T00:00:00Z.",
          });
        }
        const known = await meter.knownPeriods(accountId, PERIOD_LOOKUP_LIMIT);
        const containing = known.find((p) => p.startMs <= atMs && atMs < p.endMs);
        periods = [containing?.startMs ?? atMs];
      }
      const [drift, queue] = await Promise.all([
        checkAccountDrift(
          { meter, db, clickhouse: deps.clickhouse, clock: deps.clock },
          accountId,
          periods,
        ),
        deps.queueBacklog().catch(() => null),
      ]);
      return c.json(
        {
          checkedAt: iso(drift.checkedAtMs) as string,
          queue: queue && {
            backlogCount: queue.backlogCount,
            backlogBytes: queue.backlogBytes,
            oldestMessageAt: iso(queue.oldestMessageMs),
          },
          accounts: [view(drift)],
        },
        200,
      );
    } finally {
      c.executionCtx.waitUntil(db.end());
    }
  },
);
