import type { Context } from "hono";
import { type Database, openDatabase } from "../../../lib/adapters/postgres.ts";
import { loadCreditSnapshot } from "../../../lib/billing/credits.ts";
import type { RunDeps } from "../../../lib/billing/invoice-run.ts";
import type { InvoiceJobMessage } from "../../../lib/billing/job-message.ts";
import type { Clock } from "../../../lib/clock/clock.ts";
import { AppError } from "../../../lib/errors/index.ts";
import { createIdGenerator } from "../../../lib/ids/ids.ts";
import type { Logger } from "../../../lib/log/logger.ts";
import type { AppEnv } from "../../context.ts";
import { meterFor } from "../../meters.ts";

/** Shared pieces of the billing routes and the hourly job. */

/** Runs `work` with a Postgres pool for this request, ended after the response. */
export async function withDatabase<T>(
  c: Context<AppEnv>,
  work: (db: Database) => Promise<T>,
): Promise<T> {
  const db = openDatabase(c.get("config").database, { max: 2 });
  try {
    return await work(db);
  } finally {
    c.executionCtx.waitUntil(db.end());
  }
}

/** The invoice run's dependencies for one invocation (request, cron firing). */
export function runDeps(env: Env, db: Database, clock: Clock, log: Logger): RunDeps {
  return {
    db,
    jobs: {
      sendBatch: async (bodies: InvoiceJobMessage[]) => {
        await env.INVOICE_JOBS.sendBatch(bodies.map((body) => ({ body, contentType: "json" })));
      },
    },
    clock,
    ids: createIdGenerator(() => clock.nowMs()),
    log,
  };
}

/**
 * Pushes the account's credit snapshot to its meter after a grant or invoice change, so the
 * usage API's prepaid balance follows at once. Best effort: failures are logged; the next change
 * or invoice pushes again.
 */
export async function pushCredits(c: Context<AppEnv>, db: Database, accountId: string) {
  try {
    const snapshot = await loadCreditSnapshot(db, accountId);
    if (snapshot) {
      await meterFor(c.env, accountId).syncCredits(accountId, snapshot);
    }
  } catch (error) {
    c.get("log").warn("credit snapshot not pushed to the meter", { accountId, error });
  }
}

/** The account the caller may see invoices of: any for the admin key, its own for an account. */
export function visibleAccount(c: Context<AppEnv>): string | undefined {
  const principal = c.get("principal");
  return principal.kind === "account" ? principal.accountId : undefined;
}

/** An RFC 3339 query or body instant as epoch ms; INVALID_QUERY naming the field otherwise. */
export function parseInstant(value: string, field: string): number {
  const ms = Date.parse(value);
  if (!/(Z|[+-]\d\d:\d\d)$/i.test(value) || Number.isNaN(ms)) {
    throw new AppError("INVALID_QUERY", `${field} is not an RFC 3339 instant`, {
      detail: `Use a timestamp with a zone, e.g. 2026-12-01T00:00:00Z, for ${field}.`,
      fieldErrors: [{ field: `/${field}`, code: "invalid_instant", detail: "expected RFC 3339" }],
    });
  }
  return ms;
}
