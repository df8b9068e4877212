/**
 * `GET /v1/accounts/{id}/invoices/upcoming`: the current period priced in real time from the
 * account meter's live totals, with taxes and credit as the invoice would apply them; nothing is
 * written.
 */
import { describe, expect, it } from "vitest";
import { PeriodCalendar } from "../../../lib/periods/period-calendar.ts";
import { call, callJson, unique } from "../support/http.ts";
import { MONTHLY, seedAccount, seedMeters, seedPlan, sendEvents, sql } from "./support.ts";

describe("upcoming invoice preview", () => {
  it("prices the live period like the invoice run, for the admin and the account's own key", async () => {
    const calls = unique("up-calls");
    await seedMeters([{ key: calls, aggregation: "count" }]);
    const { planId } = await seedPlan([
      { baseFee: "20", prices: { [calls]: { model: "per_unit", unitPrice: "0.5" } } },
    ]);
    const period = new PeriodCalendar(MONTHLY, "UTC").containing(Date.now());
    const accountId = await seedAccount({
      planId,
      createdAtMs: period.startMs,
      taxRates: [{ name: "VAT", percent: "10" }],
    });
    const other = await seedAccount({ planId, createdAtMs: period.startMs });
    await callJson(`/v1/accounts/${accountId}/credit-grants`, 201, {
      body: { amount: "5", kind: "promotional" },
    });
    const now = Date.now();
    await sendEvents(accountId, [
      { id: "1", meter: calls, timeMs: now - 3000 },
      { id: "2", meter: calls, timeMs: now - 2000 },
      { id: "3", meter: calls, timeMs: now - 1000 },
    ]);

    const preview = await callJson<{
      periodStart: string;
      lines: { kind: string; quantity: string | null; amountMinor: number; taxMinor: number }[];
      subtotalMinor: number;
      taxMinor: number;
      totalMinor: number;
      creditsAppliedMinor: number;
      amountDueMinor: number;
    }>(`/v1/accounts/${accountId}/invoices/upcoming`, 200);
    expect(preview.periodStart).toBe(new Date(period.startMs).toISOString());
    expect(preview.lines.map((l) => [l.kind, l.quantity, l.amountMinor, l.taxMinor])).toEqual([
      ["base_fee", null, 2000, 200],
      ["usage", "3", 150, 15],
    ]);
    expect(preview).toMatchObject({
      subtotalMinor: 2150,
      taxMinor: 215,
      totalMinor: 2365,
      creditsAppliedMinor: 500,
      amountDueMinor: 1865,
    });

    const { key } = await callJson<{ key: string }>(`/v1/accounts/${accountId}/api-keys`, 201, {
      body: { name: "preview" },
    });
    const own = await call(`/v1/accounts/${accountId}/invoices/upcoming`, { key });
    expect(own.status).toBe(200);
    expect((await call(`/v1/accounts/${other}/invoices/upcoming`, { key })).status).toBe(404);
    expect((await call(`/v1/accounts/${accountId}/invoices/upcoming`, { key: null })).status).toBe(
      401,
    );

    // A preview writes nothing: no invoice, the credit untouched.
    expect(await sql("select id from invoices where account_id = $1", [accountId])).toEqual([]);
    const [grant] = await sql<{ remaining: string }>(
      "select remaining_minor::text as remaining from credit_grants where account_id = $1",
      [accountId],
    );
    expect(grant?.remaining).toBe("500");
  });

  it("answers 422 AMOUNT_TOO_LARGE for amounts beyond 2^53 - 1 minor units", async () => {
    // A base fee the catalogue allows (15 integer digits) but no JSON number states in cents.
    const { planId } = await seedPlan([{ baseFee: "100000000000000", prices: {} }]);
    const period = new PeriodCalendar(MONTHLY, "UTC").containing(Date.now());
    const accountId = await seedAccount({ planId, createdAtMs: period.startMs });
    const response = await call(`/v1/accounts/${accountId}/invoices/upcoming`);
    expect(response.status).toBe(422);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    const problem = (await response.json()) as { code: string; detail: string };
    expect(problem.code).toBe("AMOUNT_TOO_LARGE");
    expect(problem.detail).toContain("10000000000000000 minor units");
  });

  it("refuses events that would rate a period beyond 10^13 minor units, storing none", async () => {
    const tokens = unique("up-huge");
    await seedMeters([{ key: tokens, aggregation: "sum" }]);
    const { planId } = await seedPlan([
      { baseFee: "0", prices: { [tokens]: { model: "per_unit", unitPrice: "1" } } },
    ]);
    const period = new PeriodCalendar(MONTHLY, "UTC").containing(Date.now());
    const accountId = await seedAccount({ planId, createdAtMs: period.startMs });
    const now = Date.now();
    const event = (id: string, value: string) => ({
      account: accountId,
      id,
      meter: tokens,
      value,
      time: new Date(now - 1000).toISOString(),
    });
    // USD 100 billion is the ceiling: exactly it is accepted, a cent more is not.
    await sendEvents(accountId, [
      { id: "a", meter: tokens, value: "99999999999.99", timeMs: now - 2000 },
    ]);
    const refused = await callJson<{ accepted: number; rejected: { id: string; code: string }[] }>(
      "/v1/events",
      202,
      { body: [event("b", "0.005"), event("c", "0.01")] },
    );
    expect(refused.accepted).toBe(0);
    expect(refused.rejected.map((r) => [r.id, r.code])).toEqual([
      ["b", "AMOUNT_OUT_OF_RANGE"],
      ["c", "AMOUNT_OUT_OF_RANGE"],
    ]);
    const accepted = await callJson<{ accepted: number }>("/v1/events", 202, {
      body: [event("d", "0.01")],
    });
    expect(accepted.accepted).toBe(1);
    const usage = await callJson<{
      amount: string;
      meters: { quantity: string; events: number }[];
    }>(`/v1/accounts/${accountId}/usage`, 200);
    expect([usage.amount, usage.meters[0]?.quantity, usage.meters[0]?.events]).toEqual([
      "100000000000",
      "100000000000",
      2,
    ]);
  });
});
