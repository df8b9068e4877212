import { join } from "node:path";
import pg from "pg";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { admin, type E2eWorld, SCREENSHOTS, startWorld } from "./support.ts";

const tag = crypto.randomUUID().slice(0, 8);
const meter = `e2e_tokens_${tag}`;
const accountId = `e2e-acct-${tag}`;
const invoiceId = `inv_e2e_${tag}`;
const runId = `run_e2e_${tag}`;
const invoiceNumber = `E2E-${tag}`;

let world: E2eWorld;
let page: Page;

/** Sends events for the test account with the admin key; every one must be accepted. */
async function ingest(events: { id: string; value: string }[]): Promise<void> {
  const summary = await admin<{ accepted: number }>(
    world,
    "/v1/events",
    events.map((e) => ({ ...e, account: accountId, meter })),
    202,
  );
  expect(summary.accepted).toBe(events.length);
}

/**
 * The invoice run writes invoices in production; here one run and its invoice are written
 * straight to Postgres so the dashboard has a run to show (the test only reads them).
 */
async function seedInvoiceRun(): Promise<void> {
  const client = new pg.Client({ connectionString: inject("stack").postgres.appUrl });
  await client.connect();
  try {
    await client.query(
      `insert into invoice_runs (id, trigger, as_of, grace_seconds, jobs_enqueued, started_at, finished_at)
       values ($1, 'admin', now(), 3600, 1, now(), now())`,
      [runId],
    );
    await client.query(
      `insert into invoices (id, account_id, period_start, period_end, number, status, currency,
                             collection_method, subtotal_minor, total_minor, amount_due_minor,
                             run_id, finalized_at)
       values ($1, $2, '2026-10-01T00:00:00Z', '2026-11-01T00:00:00Z', $3, 'open', 'USD',
               'charge_automatically', 2150, 2150, 2150, $4, now())`,
      [invoiceId, accountId, invoiceNumber, runId],
    );
    await client.query(
      `insert into invoice_lines (id, invoice_id, position, kind, description, meter, quantity,
                                  unit_price, amount, amount_minor, period_start, period_end)
       values ($1, $2, 1, 'usage', 'Tokens', $3, 43, 0.5, 21.5, 2150,
               '2026-10-01T00:00:00Z', '2026-11-01T00:00:00Z')`,
      [`${invoiceId}_l1`, invoiceId, meter],
    );
  } finally {
    await client.end();
  }
}

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** The quantity the account page shows for the test meter. */
function quantityCell() {
  return page.locator(
    `tbody[data-list="account.usage.meters.nodes"] tr[data-key="${meter}"] [data-bind="quantity"]`,
  );
}

beforeAll(async () => {
  world = await startWorld();
  await admin(world, "/v1/meters", {
    key: meter,
    aggregation: "sum",
    unit: "tokens",
    name: "Tokens",
  });
  const plan = await admin<{ id: string }>(world, "/v1/plans", {
    key: `e2e-plan-${tag}`,
    name: "E2E plan",
    versions: [
      {
        currency: "USD",
        effectiveFrom: "2020-01-01T00:00:00Z",
        prices: { [meter]: { model: "per_unit", unitPrice: "0.5" } },
      },
    ],
  });
  await admin(world, "/v1/accounts", {
    id: accountId,
    name: "E2E Robotics",
    currency: "USD",
    timeZone: "UTC",
    billingInterval: { unit: "month", count: 1, anchorDay: 1 },
    planId: plan.id,
    planEffectiveFrom: "2020-01-01T00:00:00Z",
  });
  await ingest([
    { id: "e2e-1", value: "2" },
    { id: "e2e-2", value: "3" },
  ]);
  await seedInvoiceRun();
  page = await world.browser.newPage();
});

afterAll(async () => {
  await world?.stop();
});

describe("the dashboard in a real browser", () => {
  it("signs in with the admin key and shows the overview", async () => {
    await page.goto(`${world.url}/dashboard`);
    expect(new URL(page.url()).pathname).toBe("/dashboard/sign-in");
    await page.getByLabel("Admin key").fill(world.adminKey);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${world.url}/dashboard`);
    expect(await page.locator("h1").textContent()).toBe("Billing overview");
    // The key never appears in a URL; the session lives in an HttpOnly cookie.
    expect(page.url()).not.toContain(world.adminKey);
    const cookies = await world.browser.cookies(world.url);
    expect(cookies.map((c) => [c.name, c.httpOnly, c.sameSite])).toEqual([
      ["meterline_session", true, "Strict"],
    ]);
    expect(
      await page.locator(`[data-list="latestInvoiceRun.invoices.nodes"] a`).first().textContent(),
    ).toBe(invoiceNumber);
    await shot("01-overview");
  });

  it("shows the account's usage chart and moves the numbers as events arrive, without a reload", async () => {
    await page.goto(`${world.url}/dashboard/accounts/${accountId}`);
    await page.locator(`figure[data-chart-key="${meter}"] canvas`).first().waitFor();
    expect(await quantityCell().textContent()).toBe("5");
    await shot("02-account-usage");

    await page.evaluate(() => {
      (window as unknown as { e2eMarker: string }).e2eMarker = "same page";
    });
    const updatesBefore = Number(
      await page.locator('[data-live-status="account"]').getAttribute("data-updates"),
    );
    await ingest([{ id: "e2e-3", value: "7" }]);
    await quantityCell().filter({ hasText: /^12$/ }).waitFor({ timeout: 30_000 });

    expect(await page.evaluate(() => (window as unknown as { e2eMarker?: string }).e2eMarker)).toBe(
      "same page",
    );
    const updatesAfter = Number(
      await page.locator('[data-live-status="account"]').getAttribute("data-updates"),
    );
    expect(updatesAfter).toBeGreaterThan(updatesBefore);
    expect(
      await page
        .locator(
          `tbody[data-list="account.usage.meters.nodes"] tr[data-key="${meter}"] [data-bind="amount.formatted"]`,
        )
        .textContent(),
    ).toBe("USD 6.00");
    await shot("03-account-usage-moved");
  });

  it("opens an invoice from the latest invoice run", async () => {
    await page.goto(`${world.url}/dashboard`);
    await page.getByRole("link", { name: invoiceNumber }).click();
    await page.waitForURL(`${world.url}/dashboard/invoices/${invoiceId}`);
    expect(await page.locator("h1").textContent()).toBe(`Invoice ${invoiceNumber}`);
    const line = page.locator('tbody[data-list="invoice.lines.nodes"] tr[data-key="1"]');
    expect(await line.locator('[data-bind="description"]').textContent()).toBe("Tokens");
    expect(await line.locator('[data-bind="quantity"]').textContent()).toBe("43");
    expect(await line.locator('[data-bind="amount.formatted"]').textContent()).toBe("USD 21.50");
    await shot("04-invoice");
  });
});
