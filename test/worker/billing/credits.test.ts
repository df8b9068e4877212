/**
 * Credit grants and prepayment: the grants API, the documented consumption order on invoices,
 * the append-only ledger (consume, expire, give back on void), and the account meter's real-time
 * drawdown shown in the usage API.
 */
import { runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { AccountMeter } from "../../../durable-objects/account-meter.ts";
import { createGrant, planConsumption } from "../../../lib/billing/credits.ts";
import { createIdGenerator } from "../../../lib/ids/ids.ts";
import { readCredits } from "../../../lib/metering/credits.ts";
import { call, callJson, unique } from "../support/http.ts";
import {
  closePeriod,
  DAY_MS,
  HOUR_MS,
  initCursor,
  invoiceFor,
  meterOf,
  seedAccount,
  seedMeters,
  seedPlan,
  sendEvents,
  sql,
  testDb,
} from "./support.ts";

const OCT = { startMs: Date.UTC(2025, 9, 1), endMs: Date.UTC(2025, 10, 1) };
const CALLS = unique("cr-calls");
let planId = "";

interface GrantJson {
  id: string;
  remainingMinor: number;
  amount: string;
  priority: number;
}

function grant(accountId: string, body: Record<string, unknown>, key?: string) {
  return call(`/v1/accounts/${accountId}/credit-grants`, {
    body,
    ...(key ? { headers: { "idempotency-key": key } } : {}),
  });
}

async function grantOk(accountId: string, body: Record<string, unknown>): Promise<GrantJson> {
  const response = await grant(accountId, body);
  expect(response.status, await response.clone().text()).toBe(201);
  return (await response.json()) as GrantJson;
}

async function ledger(accountId: string) {
  const { entries } = await callJson<{
    entries: { grantId: string; kind: string; amountMinor: number; invoiceId: string | null }[];
  }>(`/v1/accounts/${accountId}/credit-ledger`, 200);
  return entries;
}

beforeAll(async () => {
  await seedMeters([{ key: CALLS, aggregation: "count" }]);
  ({ planId } = await seedPlan([
    { baseFee: "45", prices: { [CALLS]: { model: "per_unit", unitPrice: "0.5" } } },
  ]));
});

describe("consumption order", () => {
  it.each([
    {
      name: "lower priority number first",
      grants: [
        { id: "a", priority: 10, expiresAtMs: null, createdAtMs: 1, remainingMinor: 500n },
        { id: "b", priority: 5, expiresAtMs: null, createdAtMs: 2, remainingMinor: 500n },
      ],
      owed: 700n,
      plan: [
        ["b", 500n],
        ["a", 200n],
      ],
    },
    {
      name: "then the soonest expiry, never-expiring last",
      grants: [
        { id: "a", priority: 1, expiresAtMs: null, createdAtMs: 1, remainingMinor: 500n },
        { id: "b", priority: 1, expiresAtMs: 2_000, createdAtMs: 2, remainingMinor: 100n },
        { id: "c", priority: 1, expiresAtMs: 1_000, createdAtMs: 3, remainingMinor: 100n },
      ],
      owed: 250n,
      plan: [
        ["c", 100n],
        ["b", 100n],
        ["a", 50n],
      ],
    },
    {
      name: "then the oldest grant",
      grants: [
        { id: "new", priority: 1, expiresAtMs: null, createdAtMs: 9, remainingMinor: 100n },
        { id: "old", priority: 1, expiresAtMs: null, createdAtMs: 1, remainingMinor: 100n },
      ],
      owed: 150n,
      plan: [
        ["old", 100n],
        ["new", 50n],
      ],
    },
    {
      name: "never more than the grants hold",
      grants: [{ id: "a", priority: 1, expiresAtMs: null, createdAtMs: 1, remainingMinor: 80n }],
      owed: 1000n,
      plan: [["a", 80n]],
    },
  ])("$name", ({ grants, owed, plan }) => {
    expect(planConsumption(grants, owed).map((p) => [p.grantId, p.amountMinor])).toEqual(plan);
  });
});

describe("credit grants API", () => {
  it("validates a grant and reports every problem", async () => {
    const accountId = await seedAccount({ planId, createdAtMs: OCT.startMs });
    const response = await grant(accountId, {
      amount: "10.001",
      currency: "EUR",
      kind: "gift",
      priority: 5000,
      expiresAt: new Date(Date.now() - DAY_MS).toISOString(),
    });
    expect(response.status).toBe(422);
    const problem = (await response.json()) as { errors: { field: string; code: string }[] };
    expect(problem.errors.map((e) => [e.field, e.code])).toEqual([
      ["/currency", "currency_mismatch"],
      ["/amount", "invalid_amount"],
      ["/kind", "invalid_value"],
      ["/priority", "out_of_range"],
      ["/expiresAt", "out_of_range"],
    ]);
    expect((await grant(unique("nobody"), { amount: "1", kind: "promotional" })).status).toBe(404);
  });

  it("grants once per idempotency key and records the grant in the ledger", async () => {
    const accountId = await seedAccount({ planId, createdAtMs: OCT.startMs });
    const body = { amount: "25.00", kind: "purchased", description: "Prepayment" };
    const first = await grant(accountId, body, "prepay-1");
    const again = await grant(accountId, body, "prepay-1");
    expect([first.status, again.status]).toEqual([201, 200]);
    const created = (await first.json()) as GrantJson;
    expect(((await again.json()) as GrantJson).id).toBe(created.id);
    expect(created).toMatchObject({ amount: "25.00", remainingMinor: 2500, priority: 100 });
    expect(await ledger(accountId)).toEqual([
      expect.objectContaining({ grantId: created.id, kind: "grant", amountMinor: 2500 }),
    ]);
  });
});

describe("credit on invoices", () => {
  it("pays invoices in the documented order and gives the credit back when voided", async () => {
    const accountId = await seedAccount({ planId, createdAtMs: OCT.startMs });
    await initCursor(accountId, OCT);
    const since = "2025-01-01T00:00:00Z";
    const later = new Date(Date.now() + 30 * DAY_MS).toISOString();
    const g1 = await grantOk(accountId, { amount: "30", kind: "purchased", effectiveAt: since });
    const g2 = await grantOk(accountId, {
      amount: "10",
      kind: "promotional",
      effectiveAt: since,
      expiresAt: later,
    });
    const g3 = await grantOk(accountId, {
      amount: "20",
      kind: "promotional",
      priority: 5,
      effectiveAt: since,
    });
    // Granted after the period ended: not usable for it.
    const g4 = await grantOk(accountId, { amount: "99", kind: "purchased" });

    await closePeriod(accountId, OCT, { nowMs: OCT.endMs + HOUR_MS });
    const invoice = (await invoiceFor(accountId, OCT))?.invoice;
    // 45.00 due: g3 (priority 5) 20, then g2 (expires first) 10, then g1 15.
    expect(invoice).toMatchObject({
      totalMinor: 4500n,
      creditsAppliedMinor: 4500n,
      amountDueMinor: 0n,
      status: "paid",
    });
    const grants = await callJson<{ grants: GrantJson[] }>(
      `/v1/accounts/${accountId}/credit-grants`,
      200,
    );
    expect(Object.fromEntries(grants.grants.map((g) => [g.id, g.remainingMinor]))).toEqual({
      [g1.id]: 1500,
      [g2.id]: 0,
      [g3.id]: 0,
      [g4.id]: 9900,
    });
    const consumed = (await ledger(accountId))
      .filter((e) => e.kind === "consume")
      .map((e) => [e.grantId, e.amountMinor, e.invoiceId]);
    expect(consumed.sort()).toEqual(
      [
        [g1.id, -1500, invoice?.id],
        [g2.id, -1000, invoice?.id],
        [g3.id, -2000, invoice?.id],
      ].sort(),
    );
    const doc = await callJson<{ credits: { grantId: string; amountMinor: number }[] }>(
      `/v1/invoices/${invoice?.id}`,
      200,
    );
    expect(doc.credits.map((c) => c.amountMinor).sort()).toEqual([1000, 1500, 2000]);

    // A paid invoice cannot be voided; an open one can, and gives its credit back.
    expect((await call(`/v1/invoices/${invoice?.id}/void`, { body: { reason: "x" } })).status).toBe(
      409,
    );
  });

  it("returns consumed credit to its grants when an open invoice is voided", async () => {
    const accountId = await seedAccount({ planId, createdAtMs: OCT.startMs });
    await initCursor(accountId, OCT);
    const g = await grantOk(accountId, {
      amount: "20",
      kind: "promotional",
      effectiveAt: "2025-01-01T00:00:00Z",
    });
    await closePeriod(accountId, OCT, { nowMs: OCT.endMs + HOUR_MS });
    const invoice = (await invoiceFor(accountId, OCT))?.invoice;
    expect(invoice).toMatchObject({
      status: "open",
      creditsAppliedMinor: 2000n,
      amountDueMinor: 2500n,
    });
    await callJson(`/v1/invoices/${invoice?.id}/void`, 200, { body: { reason: "Re-issue" } });
    const after = await callJson<{ grants: GrantJson[] }>(
      `/v1/accounts/${accountId}/credit-grants`,
      200,
    );
    expect(after.grants.map((x) => [x.id, x.remainingMinor])).toEqual([[g.id, 2000]]);
    expect((await ledger(accountId)).map((e) => [e.kind, e.amountMinor])).toEqual([
      ["reverse", 2000],
      ["consume", -2000],
      ["grant", 2000],
    ]);
    const audit = await sql<{ action: string }>(
      "select action from audit_log where account_id = $1 order by seq",
      [accountId],
    );
    expect(audit.map((a) => a.action)).toEqual([
      "credit.granted",
      "credit.consumed",
      "invoice.finalized",
      "invoice.voided",
      "credit.restored",
    ]);
  });

  it("expires what is left of a grant once every period it covered is invoiced", async () => {
    const accountId = await seedAccount({ planId, createdAtMs: OCT.startMs });
    await initCursor(accountId, OCT);
    // Written through the library: the API only accepts expiries in the future.
    const db = testDb();
    let grantId = "";
    try {
      grantId = (
        await db.transaction((tx) =>
          createGrant(
            tx,
            createIdGenerator(),
            {
              accountId,
              kind: "promotional",
              currency: "USD",
              amountMinor: 5000n,
              priority: 100,
              effectiveAtMs: Date.UTC(2025, 0, 1),
              expiresAtMs: Date.UTC(2025, 9, 15),
              description: "October promotion",
              source: null,
              idempotencyKey: null,
            },
            "admin",
            Date.UTC(2025, 0, 1),
          ),
        )
      ).grant.id;
    } finally {
      await db.end();
    }
    await closePeriod(accountId, OCT, { nowMs: OCT.endMs + HOUR_MS });
    expect((await invoiceFor(accountId, OCT))?.invoice).toMatchObject({
      creditsAppliedMinor: 4500n,
      amountDueMinor: 0n,
    });
    expect((await ledger(accountId)).map((e) => [e.grantId, e.kind, e.amountMinor])).toEqual([
      [grantId, "expire", -500],
      [grantId, "consume", -4500],
      [grantId, "grant", 5000],
    ]);
  });
});

describe("prepaid balance in real time", () => {
  it("draws the balance down as usage is rated, in the usage API", async () => {
    const accountId = await seedAccount({ planId, createdAtMs: Date.now() - 2 * DAY_MS });
    const g = await grantOk(accountId, { amount: "10", kind: "purchased" });
    const spend = async () =>
      (
        await callJson<{ spend: { spent: string; credits: Record<string, unknown> } }>(
          `/v1/accounts/${accountId}/usage`,
          200,
        )
      ).spend;
    await sendEvents(accountId, [
      { id: "a", meter: CALLS, timeMs: Date.now() - 60_000 },
      { id: "b", meter: CALLS, timeMs: Date.now() - 50_000 },
      { id: "c", meter: CALLS, timeMs: Date.now() - 40_000 },
    ]);
    expect(await spend()).toMatchObject({
      spent: "1.5",
      credits: { currency: "USD", granted: "10", drawn: "1.5", balance: "8.5" },
    });
    await sendEvents(accountId, [{ id: "d", meter: CALLS, timeMs: Date.now() - 30_000 }]);
    expect((await spend()).credits).toMatchObject({ drawn: "2", balance: "8" });

    await callJson(`/v1/accounts/${accountId}/credit-grants/${g.id}/void`, 200, {
      body: { reason: "refunded" },
    });
    expect((await spend()).credits).toMatchObject({ granted: "0", drawn: "0", balance: "0" });
  });

  it("ignores a snapshot older than the one it holds", async () => {
    const accountId = await seedAccount({ planId, createdAtMs: Date.now() - DAY_MS });
    await grantOk(accountId, { amount: "7", kind: "purchased" });
    const stale = {
      version: 0,
      currency: "USD",
      reconciledThroughMs: null,
      grants: [],
    };
    await meterOf(accountId).syncCredits(accountId, stale);
    const held = await runInDurableObject(meterOf(accountId), (instance: AccountMeter) =>
      readCredits(instance.sql),
    );
    expect(held).toMatchObject({ granted: "7", balance: "7" });
  });
});
