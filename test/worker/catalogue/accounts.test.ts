import { beforeAll, describe, expect, it } from "vitest";
import { call, callJson, unique } from "../support/http.ts";
import {
  type AccountJson,
  createAccount,
  createPlan,
  expectProblem,
  type PlanJson,
  pageThrough,
  secondsFromNow,
} from "./support.ts";

let basic: PlanJson;
let pro: PlanJson;

beforeAll(async () => {
  basic = await createPlan({ baseFee: "10" });
  pro = await createPlan({ baseFee: "50" });
});

describe("accounts", () => {
  it("creates an account with a chosen id and reads it back", async () => {
    const id = unique("acme.prod");
    const created = await callJson<AccountJson>("/v1/accounts", 201, {
      body: {
        id,
        name: "Acme",
        email: "billing@acme.example",
        currency: "USD",
        timeZone: "America/New_York",
        billingInterval: { unit: "month", count: 1, anchorDay: 15 },
        collectionMethod: "send_invoice",
        netTermsDays: 30,
        poNumber: "PO-7",
        stripeCustomerId: "cus_Acme123",
        notificationUrl: "https://hooks.acme.example/meterline",
        spend: { budget: "1000.50", alertPercents: [90, 50], hardCap: true },
        planId: basic.id,
      },
    });
    expect(created).toEqual({
      id,
      name: "Acme",
      email: "billing@acme.example",
      currency: "USD",
      timeZone: "America/New_York",
      billingInterval: { unit: "month", count: 1, anchorDay: 15 },
      collectionMethod: "send_invoice",
      netTermsDays: 30,
      poNumber: "PO-7",
      stripeCustomerId: "cus_Acme123",
      notificationUrl: "https://hooks.acme.example/meterline",
      spend: { budget: "1000.5", alertPercents: [50, 90], hardCap: true },
      planId: basic.id,
      planSchedule: [{ planId: basic.id, effectiveFrom: created.planSchedule[0]?.effectiveFrom }],
      configRevision: 1,
      createdAt: created.createdAt,
      updatedAt: created.createdAt,
    });
    expect(await callJson(`/v1/accounts/${id}`, 200)).toEqual(created);
  });

  it("generates an acct_ id when none is given, and starts without a plan", async () => {
    const created = await callJson<AccountJson>("/v1/accounts", 201, {
      body: {
        name: "Generated",
        currency: "EUR",
        timeZone: "Europe/Paris",
        billingInterval: { unit: "week", count: 2, anchorDate: "2024-01-01" },
      },
    });
    expect(created.id).toMatch(/^acct_[0-9a-z]{26}$/);
    expect(created).toMatchObject({
      collectionMethod: "charge_automatically",
      netTermsDays: 0,
      planId: null,
      planSchedule: [],
    });
  });

  it("starts the first plan at a given time, past or future", async () => {
    const account = await createAccount({
      planId: basic.id,
      planEffectiveFrom: secondsFromNow(86_400),
    });
    expect(account.planId).toBeNull();
    expect(account.planSchedule.length).toBe(1);
  });

  it("refuses a second account with the same id", async () => {
    const account = await createAccount();
    await expectProblem("/v1/accounts", 409, "ALREADY_EXISTS", {
      body: {
        id: account.id,
        name: "Again",
        currency: "USD",
        timeZone: "UTC",
        billingInterval: { unit: "month", count: 1, anchorDay: 1 },
      },
    });
  });

  it("answers 404 for an account that does not exist", async () => {
    await expectProblem("/v1/accounts/nobody", 404, "NOT_FOUND");
    await expectProblem("/v1/accounts/nobody", 404, "NOT_FOUND", {
      method: "PATCH",
      body: { name: "x" },
    });
    await expectProblem("/v1/accounts/nobody/plan", 404, "NOT_FOUND", {
      body: { planId: basic.id, effectiveFrom: secondsFromNow(600) },
    });
  });

  it("changes contact, collection and spend settings, bumping the config revision", async () => {
    const account = await createAccount({ email: "a@b.example" });
    const changed = await callJson<AccountJson>(`/v1/accounts/${account.id}`, 200, {
      method: "PATCH",
      body: {
        name: "Renamed",
        email: null,
        collectionMethod: "send_invoice",
        netTermsDays: 14,
        spend: { budget: "75", alertPercents: [100] },
      },
    });
    expect(changed).toMatchObject({
      name: "Renamed",
      email: null,
      collectionMethod: "send_invoice",
      netTermsDays: 14,
      spend: { budget: "75", alertPercents: [100], hardCap: false },
      configRevision: 2,
    });
    const back = await callJson<AccountJson>(`/v1/accounts/${account.id}`, 200, {
      method: "PATCH",
      body: { collectionMethod: "charge_automatically" },
    });
    expect(back).toMatchObject({ collectionMethod: "charge_automatically", netTermsDays: 0 });
  });

  it("refuses to change the currency, time zone or billing interval", async () => {
    const account = await createAccount();
    const problem = await expectProblem(`/v1/accounts/${account.id}`, 409, "IMMUTABLE_FIELD", {
      method: "PATCH",
      body: {
        currency: "EUR",
        timeZone: "UTC",
        billingInterval: { unit: "year", anchorMonth: 1, anchorDay: 1 },
      },
    });
    expect(problem.errors?.map((e) => e.field)).toEqual(["/currency", "/billingInterval"]);
  });

  it("schedules a plan switch and shows it in the schedule", async () => {
    const account = await createAccount({ planId: basic.id });
    const effectiveFrom = secondsFromNow(600);
    const switched = await callJson<AccountJson>(`/v1/accounts/${account.id}/plan`, 201, {
      body: { planId: pro.id, effectiveFrom },
    });
    expect(switched.planId).toBe(basic.id);
    expect(switched.planSchedule).toEqual([
      account.planSchedule[0],
      { planId: pro.id, effectiveFrom },
    ]);
    expect(switched.configRevision).toBe(account.configRevision + 1);
    await expectProblem(`/v1/accounts/${account.id}/plan`, 422, "VALIDATION_FAILED", {
      body: { planId: basic.id, effectiveFrom: secondsFromNow(500) },
    });
  });

  it("switches once however often the request is retried with its key", async () => {
    const account = await createAccount({ planId: basic.id });
    const idem = crypto.randomUUID();
    const body = { planId: pro.id, effectiveFrom: secondsFromNow(700) };
    const first = await call(`/v1/accounts/${account.id}/plan`, {
      body,
      headers: { "idempotency-key": idem },
    });
    const again = await call(`/v1/accounts/${account.id}/plan`, {
      body,
      headers: { "idempotency-key": idem },
    });
    expect([first.status, again.status]).toEqual([201, 201]);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(await again.text()).toBe(await first.text());
    const read = await callJson<AccountJson>(`/v1/accounts/${account.id}`, 200);
    expect(read.planSchedule.length).toBe(2);
  });

  it("lists every account exactly once when paging by 3", async () => {
    const prefix = unique("list");
    const ids = Array.from({ length: 7 }, (_, i) => `${prefix}-${i}`);
    for (const id of ids) {
      await createAccount({ id });
    }
    const pages = await pageThrough<AccountJson>("/v1/accounts", 3);
    const all = pages.flat().map((a) => a.id);
    expect(new Set(all).size).toBe(all.length);
    expect([...all].sort()).toEqual(all);
    expect(all.filter((id) => id.startsWith(`${prefix}-`))).toEqual(ids);
  });
});
