/**
 * Enterprise invoicing: `send_invoice` accounts get net terms and their PO number on the invoice,
 * are never charged automatically, and an invoice past its due date is reported overdue once,
 * through QStash to the account's webhook, with an audit record.
 */
import { describe, expect, it } from "vitest";
import { qstashPublisher } from "../../../lib/billing/notify.ts";
import { notifyOverdueInvoices } from "../../../lib/billing/overdue.ts";
import { createIdGenerator } from "../../../lib/ids/ids.ts";
import { silentLogger } from "../../../lib/log/logger.ts";
import { call, unique } from "../support/http.ts";
import { holdPrefix, pullDelivered, QSTASH, verified } from "./qstash.ts";
import {
  closePeriod,
  DAY_MS,
  HOUR_MS,
  initCursor,
  invoiceFor,
  seedAccount,
  seedMeters,
  seedPlan,
  sql,
  testDb,
} from "./support.ts";

const OCT = { startMs: Date.UTC(2025, 9, 1), endMs: Date.UTC(2025, 10, 1) };

async function overdueScan(nowMs: number) {
  const db = testDb();
  try {
    return await notifyOverdueInvoices({
      db,
      publisher: qstashPublisher(QSTASH),
      ids: createIdGenerator(),
      log: silentLogger,
      nowMs,
    });
  } finally {
    await db.end();
  }
}

describe("send_invoice accounts", () => {
  it("bill with net terms and the PO number, charge nothing, and report overdue once", async () => {
    const meter = unique("ent-seats");
    await seedMeters([{ key: meter, aggregation: "max" }]);
    const { planId } = await seedPlan([{ baseFee: "1000", prices: {} }]);
    const hooks = await holdPrefix("overdue");
    const accountId = await seedAccount({
      planId,
      createdAtMs: OCT.startMs,
      collectionMethod: "send_invoice",
      netTermsDays: 30,
      poNumber: "PO-7731",
      notificationUrl: `${hooks}account`,
    });
    await initCursor(accountId, OCT);
    const finalizedMs = OCT.endMs + HOUR_MS;
    const { captured } = await closePeriod(accountId, OCT, { nowMs: finalizedMs });
    expect(captured.payments).toEqual([]);
    const invoice = (await invoiceFor(accountId, OCT))?.invoice;
    expect(invoice).toMatchObject({
      status: "open",
      collectionMethod: "send_invoice",
      netTermsDays: 30,
      poNumber: "PO-7731",
      amountDueMinor: 100000n,
      dueAtMs: finalizedMs + 30 * DAY_MS,
      overdueNotifiedAtMs: null,
    });
    const html = await (await call(`/v1/invoices/${invoice?.id}.html`)).text();
    expect(html).toContain("PO-7731");
    expect(html).toContain("Net 30");

    // The day before it is due: nothing. After: one notice, recorded; later scans add nothing.
    await overdueScan(finalizedMs + 29 * DAY_MS);
    expect(await pullDelivered(hooks)).toEqual([]);
    const scanMs = finalizedMs + 31 * DAY_MS;
    await overdueScan(scanMs);
    await overdueScan(scanMs + HOUR_MS);
    const deliveries = await pullDelivered(hooks);
    expect(deliveries).toHaveLength(1);
    const [notice] = deliveries as [NonNullable<(typeof deliveries)[0]>];
    expect(await verified(notice)).toBe(true);
    expect(JSON.parse(notice.body)).toMatchObject({
      type: "invoice.overdue",
      accountId,
      data: {
        invoiceId: invoice?.id,
        number: invoice?.number,
        amountDueMinor: "100000",
        currency: "USD",
        poNumber: "PO-7731",
      },
    });
    expect((await invoiceFor(accountId, OCT))?.invoice.overdueNotifiedAtMs).toBe(scanMs);
    const audit = await sql<{ action: string }>(
      "select action from audit_log where subject_id = $1 order by seq",
      [invoice?.id],
    );
    expect(audit.map((a) => a.action)).toEqual(["invoice.finalized", "invoice.overdue_notified"]);
  });
});
