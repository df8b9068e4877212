/**
 * Which period an invoice run closes first, by interval and zone: the run creates each account's
 * cursor at the period containing its creation (half-open, in the account's zone) and enqueues
 * that period once it has ended plus the grace. Table-driven, through the real run and database
 * with a capturing queue.
 */
import { describe, expect, it } from "vitest";
import { type RunRequest, runInvoiceRun } from "../../../lib/billing/invoice-run.ts";
import type { InvoiceJobMessage } from "../../../lib/billing/job-message.ts";
import { FixedClock } from "../../../lib/clock/clock.ts";
import { createIdGenerator } from "../../../lib/ids/ids.ts";
import { silentLogger } from "../../../lib/log/logger.ts";
import { seedAccount, testDb } from "./support.ts";

const iso = (ms: number) => new Date(ms).toISOString();

async function firstJob(
  seed: { interval: object; timeZone: string; createdAt: string },
  request: Omit<RunRequest, "trigger" | "accountIds">,
) {
  const accountId = await seedAccount({
    createdAtMs: Date.parse(seed.createdAt),
    interval: seed.interval,
    timeZone: seed.timeZone,
  });
  const sent: InvoiceJobMessage[] = [];
  const db = testDb();
  const clock = new FixedClock(Date.now());
  try {
    const result = await runInvoiceRun(
      {
        db,
        jobs: { sendBatch: async (bodies) => void sent.push(...bodies) },
        clock,
        ids: createIdGenerator(() => clock.nowMs()),
        log: silentLogger,
      },
      { ...request, trigger: "admin", accountIds: [accountId] },
    );
    return { result, sent };
  } finally {
    await db.end();
  }
}

describe("the first period an account is invoiced for", () => {
  it.each([
    {
      name: "monthly on the 31st clamps to February's end",
      interval: { unit: "month", count: 1, anchorDay: 31 },
      timeZone: "UTC",
      createdAt: "2025-02-10T12:00:00Z",
      period: ["2025-01-31T00:00:00.000Z", "2025-02-28T00:00:00.000Z"],
    },
    {
      name: "monthly on the 31st returns to the 31st in a longer month",
      interval: { unit: "month", count: 1, anchorDay: 31 },
      timeZone: "UTC",
      createdAt: "2025-03-05T00:00:00Z",
      period: ["2025-02-28T00:00:00.000Z", "2025-03-31T00:00:00.000Z"],
    },
    {
      name: "yearly on Feb 29 falls on Feb 28 in common years",
      interval: { unit: "year", anchorMonth: 2, anchorDay: 29 },
      timeZone: "UTC",
      createdAt: "2024-06-01T00:00:00Z",
      period: ["2024-02-29T00:00:00.000Z", "2025-02-28T00:00:00.000Z"],
    },
    {
      name: "monthly in New York across the spring DST change (an hour short)",
      interval: { unit: "month", count: 1, anchorDay: 1 },
      timeZone: "America/New_York",
      createdAt: "2024-03-05T00:00:00Z",
      period: ["2024-03-01T05:00:00.000Z", "2024-04-01T04:00:00.000Z"],
    },
    {
      name: "fixed 14-day periods from an anchor date, in the account's zone",
      interval: { unit: "day", count: 14, anchorDate: "2024-01-01" },
      timeZone: "Europe/Berlin",
      createdAt: "2024-03-20T00:00:00Z",
      period: ["2024-03-10T23:00:00.000Z", "2024-03-24T23:00:00.000Z"],
    },
    {
      name: "half-open: created exactly on a boundary belongs to the later period",
      interval: { unit: "month", count: 1, anchorDay: 1 },
      timeZone: "UTC",
      createdAt: "2025-05-01T00:00:00Z",
      period: ["2025-05-01T00:00:00.000Z", "2025-06-01T00:00:00.000Z"],
    },
  ])("$name", async ({ interval, timeZone, createdAt, period }) => {
    const { result, sent } = await firstJob(
      { interval, timeZone, createdAt },
      { asOfMs: Date.now(), graceSeconds: 3600 },
    );
    expect(result).toMatchObject({ initialized: 1, enqueued: 1 });
    expect(sent.map((m) => [iso(m.periodStartMs), iso(m.periodEndMs)])).toEqual([period]);
  });

  it("waits for the grace after the period's end before enqueueing it", async () => {
    const endMs = Date.parse("2025-06-01T00:00:00Z");
    const seed = {
      interval: { unit: "month", count: 1, anchorDay: 1 },
      timeZone: "UTC",
      createdAt: "2025-05-10T00:00:00Z",
    };
    const early = await firstJob(seed, { asOfMs: endMs + 3599_000, graceSeconds: 3600 });
    expect(early.result.enqueued).toBe(0);
    const due = await firstJob(seed, { asOfMs: endMs + 3600_000, graceSeconds: 3600 });
    expect(due.sent.map((m) => m.dueByMs)).toEqual([endMs]);
  });
});
