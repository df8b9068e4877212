/**
 * Where an account's billing starts: at its creation, or at its first plan's start when the
 * account was onboarded with a plan that took effect earlier (within the late-arrival window).
 */
import { describe, expect, it } from "vitest";
import { BACKDATED_START_LIMIT_DAYS, runInvoiceRun } from "../../../lib/billing/invoice-run.ts";
import type { InvoiceJobMessage } from "../../../lib/billing/job-message.ts";
import { FixedClock } from "../../../lib/clock/clock.ts";
import { createIdGenerator } from "../../../lib/ids/ids.ts";
import { silentLogger } from "../../../lib/log/logger.ts";
import { DAY_MS, seedAccount, seedPlan, sql, testDb } from "./support.ts";

const DAILY = { unit: "day", count: 1, anchorDate: "2026-01-01" };
const CREATED_MS = Date.UTC(2026, 10, 20, 15, 30);

async function firstCursor(
  planFromMs: number | null,
): Promise<{ start: string; jobs: InvoiceJobMessage[] }> {
  const { planId } = await seedPlan([{ baseFee: "1", prices: {} }]);
  const accountId = await seedAccount({ createdAtMs: CREATED_MS, interval: DAILY, planId });
  if (planFromMs !== null) {
    await sql("update account_plans set effective_from = $2 where account_id = $1", [
      accountId,
      new Date(planFromMs).toISOString(),
    ]);
  }
  const jobs: InvoiceJobMessage[] = [];
  const db = testDb();
  const clock = new FixedClock(CREATED_MS + DAY_MS);
  try {
    await runInvoiceRun(
      {
        db,
        jobs: { sendBatch: async (bodies) => void jobs.push(...bodies) },
        clock,
        ids: createIdGenerator(() => clock.nowMs()),
        log: silentLogger,
      },
      { trigger: "admin", asOfMs: clock.nowMs(), graceSeconds: 0, accountIds: [accountId] },
    );
    const { rows } = await db.query<{ start: Date }>(
      "select next_period_start as start from account_billing where account_id = $1",
      [accountId],
    );
    return { start: rows[0]?.start.toISOString() ?? "", jobs };
  } finally {
    await db.end();
  }
}

describe("billing start", () => {
  it("is the period containing the account's creation by default", async () => {
    const { start, jobs } = await firstCursor(null);
    expect(start).toBe("2026-11-20T00:00:00.000Z");
    expect(jobs.map((j) => new Date(j.periodStartMs).toISOString())).toEqual([
      "2026-11-20T00:00:00.000Z",
    ]);
  });

  it("goes back to a first plan that started before the account was created", async () => {
    const { start } = await firstCursor(CREATED_MS - 2 * DAY_MS);
    expect(start).toBe("2026-11-18T00:00:00.000Z");
  });

  it("never goes back further than the late-arrival window", async () => {
    const { start } = await firstCursor(CREATED_MS - (BACKDATED_START_LIMIT_DAYS + 1) * DAY_MS);
    expect(start).toBe("2026-11-20T00:00:00.000Z");
  });
});
