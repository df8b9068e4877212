/**
 * The invoices API: list with filters and cursor, the JSON document and the printable page,
 * voiding, line-level credit notes, and the tenant contract (no key, a bad key, another
 * account's key, the account's own key).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { createIdGenerator } from "../../../lib/ids/ids.ts";
import { transitionInvoice } from "../../../lib/invoicing/status.ts";
import { call, callJson, unique } from "../support/http.ts";
import {
  closePeriod,
  HOUR_MS,
  initCursor,
  invoiceFor,
  seedAccount,
  seedMeters,
  seedPlan,
  sql,
  testDb,
} from "./support.ts";

const AUG = { startMs: Date.UTC(2025, 7, 1), endMs: Date.UTC(2025, 8, 1) };
const SEP = { startMs: Date.UTC(2025, 8, 1), endMs: Date.UTC(2025, 9, 1) };
const OCT = { startMs: Date.UTC(2025, 9, 1), endMs: Date.UTC(2025, 10, 1) };
const NAME = '<b>Acme & "Co"</b>';

let accountId = "";
let otherId = "";
const ids: Record<"aug" | "sep" | "oct", string> = { aug: "", sep: "", oct: "" };

interface InvoiceJson {
  id: string;
  number: string | null;
  status: string;
  totalMinor: number;
  amountDueMinor: number;
  amountCreditedMinor: number;
  htmlUrl: string;
  lines: {
    id: string;
    kind: string;
    amountMinor: number;
    taxMinor: number;
    creditedMinor: number;
  }[];
}

async function newKey(account: string): Promise<string> {
  return (
    await callJson<{ key: string }>(`/v1/accounts/${account}/api-keys`, 201, {
      body: { name: "t" },
    })
  ).key;
}

beforeAll(async () => {
  const meter = unique("api-calls");
  await seedMeters([{ key: meter, aggregation: "count" }]);
  // v1 (100 a month) until Oct 11, v2 (40 a month) after: October is prorated 10 / 21 days.
  const { planId } = await seedPlan([
    { baseFee: "100", prices: { [meter]: { model: "per_unit", unitPrice: "1" } } },
    { baseFee: "40", effectiveFrom: "2025-10-11T00:00:00Z", prices: {} },
  ]);
  accountId = await seedAccount({
    planId,
    createdAtMs: AUG.startMs,
    name: NAME,
    taxRates: [{ name: "VAT", percent: "10" }],
  });
  otherId = await seedAccount({ planId, createdAtMs: AUG.startMs });
  await initCursor(accountId, AUG);
  await initCursor(otherId, AUG);
  for (const [key, period] of [
    ["aug", AUG],
    ["sep", SEP],
    ["oct", OCT],
  ] as const) {
    const { outcome } = await closePeriod(accountId, period, { nowMs: period.endMs + HOUR_MS });
    expect(outcome).toMatchObject({ action: "ack", result: "finalized" });
    ids[key] = (await invoiceFor(accountId, period))?.invoice.id ?? "";
  }
  await closePeriod(otherId, AUG, { nowMs: AUG.endMs + HOUR_MS });
});

describe("invoices API", () => {
  it("lists an account's invoices newest first, page by page", async () => {
    const first = await callJson<{ invoices: InvoiceJson[]; next: string | null }>(
      `/v1/invoices?account=${accountId}&limit=2`,
      200,
    );
    expect(first.invoices.map((i) => i.id)).toEqual([ids.oct, ids.sep]);
    expect(first.next).toBe(ids.sep);
    const second = await callJson<{ invoices: InvoiceJson[]; next: string | null }>(
      `/v1/invoices?account=${accountId}&limit=2&after=${first.next}`,
      200,
    );
    expect(second).toMatchObject({ invoices: [{ id: ids.aug }], next: null });
    const byPeriod = await callJson<{ invoices: InvoiceJson[] }>(
      `/v1/invoices?account=${accountId}&periodFrom=2025-09-01T00:00:00Z&periodTo=2025-10-01T00:00:00Z`,
      200,
    );
    expect(byPeriod.invoices.map((i) => i.id)).toEqual([ids.sep]);
  });

  it("serves the document as JSON, every line traceable and taxes adding up", async () => {
    const doc = await callJson<
      Omit<InvoiceJson, "lines"> & {
        lines: (InvoiceJson["lines"][0] & { description: string; amount: string })[];
        taxes: unknown[];
      }
    >(`/v1/invoices/${ids.oct}`, 200);
    expect(
      doc.lines.map((l) => [l.kind, l.description, l.amount, l.amountMinor, l.taxMinor]),
    ).toEqual([
      [
        "proration",
        expect.stringMatching(/ v1, 864000 of 2678400 s$/),
        "32.258064516129032258",
        3226,
        323,
      ],
      [
        "proration",
        expect.stringMatching(/ v2, 1814400 of 2678400 s$/),
        "27.096774193548387096",
        2710,
        271,
      ],
    ]);
    expect(doc.taxes).toEqual([{ name: "VAT", percent: "10", taxableMinor: 5936, taxMinor: 594 }]);
    expect(doc).toMatchObject({
      status: "open",
      totalMinor: 6530,
      amountDueMinor: 6530,
      htmlUrl: `/v1/invoices/${ids.oct}.html`,
    });
  });

  it("serves a printable page, with every customer-supplied text escaped", async () => {
    for (const path of [`/v1/invoices/${ids.oct}.html`, `/v1/invoices/${ids.oct}?format=html`]) {
      const response = await call(path);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toMatch(/^text\/html/);
      const html = await response.text();
      const number = (await invoiceFor(accountId, OCT))?.invoice.number as string;
      expect(html).toContain(`<title>${number}</title>`);
      expect(html).toContain("&lt;b&gt;Acme &amp; &quot;Co&quot;&lt;/b&gt;");
      expect(html).not.toContain(NAME);
      expect(html).toContain("USD 65.30");
      expect(html).toContain("@media print");
    }
  });

  it("lets an account key read only its own invoices, and never change them", async () => {
    const own = await newKey(accountId);
    const other = await newKey(otherId);
    expect((await call(`/v1/invoices/${ids.oct}`, { key: null })).status).toBe(401);
    expect((await call(`/v1/invoices/${ids.oct}`, { key: "mlk_not_a_key" })).status).toBe(401);
    expect((await call(`/v1/invoices/${ids.oct}`, { key: other })).status).toBe(404);
    expect((await call(`/v1/invoices/${ids.oct}`, { key: own })).status).toBe(200);
    const listed = await callJson<{ invoices: InvoiceJson[] }>(
      `/v1/invoices?account=${accountId}`,
      200,
      {
        key: other,
      },
    );
    expect(listed.invoices.every((i) => i.id !== ids.oct)).toBe(true);
    expect(listed.invoices).toHaveLength(1);
    const forbidden = await call(`/v1/invoices/${ids.oct}/void`, {
      key: own,
      body: { reason: "mine" },
    });
    expect(forbidden.status).toBe(403);
  });

  it("voids an open invoice once, and refuses to void a paid one", async () => {
    const voided = await callJson<InvoiceJson>(`/v1/invoices/${ids.sep}/void`, 200, {
      body: { reason: "Issued in error" },
    });
    expect(voided).toMatchObject({ id: ids.sep, status: "void" });
    const again = await callJson<InvoiceJson>(`/v1/invoices/${ids.sep}/void`, 200, {
      body: { reason: "Issued in error" },
    });
    expect(again.status).toBe("void");
    const audit = await sql<{ action: string; reason: string }>(
      "select action, reason from audit_log where subject_id = $1 order by seq",
      [ids.sep],
    );
    expect(audit.map((a) => [a.action, a.reason])).toEqual([
      ["invoice.finalized", expect.any(String)],
      ["invoice.voided", "Issued in error"],
    ]);

    const db = testDb();
    try {
      await db.transaction((tx) =>
        transitionInvoice(tx, createIdGenerator(), {
          invoiceId: ids.aug,
          to: "paid",
          actor: "test",
          reason: "paid by card",
          atMs: Date.now(),
        }),
      );
    } finally {
      await db.end();
    }
    const refused = await callJson<{ code: string }>(`/v1/invoices/${ids.aug}/void`, 409, {
      body: { reason: "too late" },
    });
    expect(refused.code).toBe("CONFLICT");
  });

  it("credits lines up to what was invoiced, tax in proportion, down to nothing due", async () => {
    const doc = await callJson<InvoiceJson>(`/v1/invoices/${ids.oct}`, 200);
    const [first, second] = doc.lines as [InvoiceJson["lines"][0], InvoiceJson["lines"][0]];
    const note = (lines: { lineId: string; amountMinor: number }[], key?: string) =>
      call(`/v1/invoices/${ids.oct}/credit-notes`, {
        body: { reason: "Service credit", lines },
        ...(key ? { headers: { "idempotency-key": key } } : {}),
      });

    const partial = await note([{ lineId: first.id, amountMinor: 1000 }], "cn-1");
    expect(partial.status).toBe(201);
    const partialJson = (await partial.json()) as Record<string, unknown>;
    expect(partialJson).toMatchObject({
      number: expect.stringMatching(/^CN-\d{6,}$/),
      subtotalMinor: 1000,
      // 323 × 1000 / 3226 = 100.12… → 100
      taxMinor: 100,
      totalMinor: 1100,
      appliedToDueMinor: 1100,
      creditedToBalanceMinor: 0,
      grantId: null,
    });
    const replay = await note([{ lineId: first.id, amountMinor: 1000 }], "cn-1");
    expect(replay.status).toBe(200);
    expect(((await replay.json()) as { id: string }).id).toBe(partialJson.id);

    const tooMuch = await note([{ lineId: first.id, amountMinor: 2227 }]);
    expect(tooMuch.status).toBe(422);
    const problem = (await tooMuch.json()) as { errors: { field: string; code: string }[] };
    expect(problem.errors.map((e) => [e.field, e.code])).toEqual([
      ["/lines/0/amountMinor", "exceeds_invoiced"],
    ]);

    // The rest of both lines: their remaining tax exactly, and nothing is due any more.
    const rest = await note([
      { lineId: first.id, amountMinor: 2226 },
      { lineId: second.id, amountMinor: 2710 },
    ]);
    expect(rest.status).toBe(201);
    expect(await rest.json()).toMatchObject({
      subtotalMinor: 4936,
      taxMinor: 223 + 271,
      totalMinor: 5430,
      appliedToDueMinor: 5430,
    });
    const after = await callJson<InvoiceJson>(`/v1/invoices/${ids.oct}`, 200);
    expect(after).toMatchObject({ status: "paid", amountDueMinor: 0, amountCreditedMinor: 6530 });
    expect(after.lines.map((l) => l.creditedMinor)).toEqual([3226, 2710]);
    const exhausted = await note([{ lineId: second.id, amountMinor: 1 }]);
    expect(exhausted.status).toBe(422);
  });

  it("returns credit on a paid invoice to the account as a purchased grant", async () => {
    const doc = await callJson<InvoiceJson>(`/v1/invoices/${ids.aug}`, 200);
    const created = await callJson<{ grantId: string; totalMinor: number }>(
      `/v1/invoices/${ids.aug}/credit-notes`,
      201,
      { body: { reason: "Outage", lines: [{ lineId: doc.lines[0]?.id, amountMinor: 500 }] } },
    );
    expect(created).toMatchObject({
      totalMinor: 550,
      appliedToDueMinor: 0,
      creditedToBalanceMinor: 550,
    });
    const grants = await callJson<{ grants: Record<string, unknown>[] }>(
      `/v1/accounts/${accountId}/credit-grants`,
      200,
    );
    expect(grants.grants).toEqual([
      expect.objectContaining({
        id: created.grantId,
        kind: "purchased",
        amount: "5.50",
        remainingMinor: 550,
        priority: 0,
        expiresAt: null,
      }),
    ]);
  });
});
