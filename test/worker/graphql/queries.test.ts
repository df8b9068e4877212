import { describe, expect, it } from "vitest";
import { unique } from "../support/http.ts";
import { codes, gql, gqlData, ingest, seedInvoice, seedPricedAccount, testDb } from "./support.ts";

const MINUTE_MS = 60_000;

/** A whole minute a few minutes ago, so events land in known minute buckets of the period. */
function recentMinute(minutesAgo: number): number {
  return Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS - minutesAgo * MINUTE_MS;
}

describe("GraphQL reads", () => {
  it("reads an account with its plan, and real-time usage per meter and minute from its meter", async () => {
    const { meter, planId, accountId } = await seedPricedAccount();
    const first = recentMinute(5);
    const second = first + MINUTE_MS;
    await ingest(accountId, meter, [
      { id: "e1", value: "2", time: new Date(first + 1_000).toISOString() },
      { id: "e2", value: "3", time: new Date(first + 2_000).toISOString() },
      { id: "e3", value: "4.25", time: new Date(second + 5_000).toISOString() },
    ]);
    const data = await gqlData<{
      account: {
        id: string;
        currency: string;
        plan: { id: string; currentVersion: { version: number } };
        usage: {
          amount: { amount: string; formatted: string };
          meters: {
            nodes: {
              key: string;
              unit: string;
              quantity: string;
              events: number;
              amount: { amount: string };
              buckets: { nodes: { minute: string; quantity: string; events: number }[] };
            }[];
          };
        };
      };
    }>(
      `query($id: ID!, $at: DateTime!, $from: DateTime!, $to: DateTime!) {
        account(id: $id) {
          id currency
          plan { id currentVersion { version } }
          usage(at: $at, bucketsFrom: $from, bucketsTo: $to) {
            amount { amount formatted }
            meters { nodes { key unit quantity events amount { amount }
              buckets { nodes { minute quantity events } } } }
          }
        }
      }`,
      {
        id: accountId,
        at: new Date(first).toISOString(),
        from: new Date(first - MINUTE_MS).toISOString(),
        to: new Date(second + MINUTE_MS).toISOString(),
      },
    );
    expect(data.account).toEqual({
      id: accountId,
      currency: "USD",
      plan: { id: planId, currentVersion: { version: 1 } },
      usage: {
        amount: { amount: "4.625", formatted: "USD 4.63" },
        meters: {
          nodes: [
            {
              key: meter,
              unit: "tokens",
              quantity: "9.25",
              events: 3,
              amount: { amount: "4.625" },
              buckets: {
                nodes: [
                  { minute: new Date(first).toISOString(), quantity: "5", events: 2 },
                  { minute: new Date(second).toISOString(), quantity: "4.25", events: 1 },
                ],
              },
            },
          ],
        },
      },
    });
  });

  it("pages through a list with cursors, never repeating or skipping an item", async () => {
    const plans: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      const { planId } = await seedPricedAccount();
      plans.push(planId);
    }
    const seen: string[] = [];
    let after: string | null = null;
    for (let pages = 0; pages < 100; pages += 1) {
      const page: {
        plans: {
          nodes: { id: string }[];
          pageInfo: { hasNextPage: boolean; endCursor: string | null };
        };
      } = await gqlData(
        "query($after: String) { plans(first: 2, after: $after) { nodes { id } pageInfo { hasNextPage endCursor } } }",
        { after },
      );
      seen.push(...page.plans.nodes.map((p) => p.id));
      expect(page.plans.nodes.length).toBeLessThanOrEqual(2);
      if (!page.plans.pageInfo.hasNextPage) {
        break;
      }
      after = page.plans.pageInfo.endCursor;
    }
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of plans) {
      expect(seen).toContain(id);
    }
  });

  it("reads an invoice with its lines, amounts exact in minor units", async () => {
    const { accountId, meter } = await seedPricedAccount();
    const invoiceId = unique("inv_gql");
    const db = testDb();
    try {
      await seedInvoice(db, {
        id: invoiceId,
        accountId,
        number: unique("INV"),
        periodStart: "2026-10-01T00:00:00Z",
        periodEnd: "2026-11-01T00:00:00Z",
        totalMinor: 1050,
        lines: [
          { description: "Tokens", meter, quantity: "20", amount: "10", amountMinor: 1000 },
          {
            description: "Tokens (late)",
            meter,
            quantity: "1.004",
            amount: "0.502",
            amountMinor: 50,
          },
        ],
      });
    } finally {
      await db.end();
    }
    const data = await gqlData<{ invoice: unknown }>(
      `query($id: ID!) { invoice(id: $id) {
        status account { id } periodStart total { amountMinor currency formatted }
        lines(first: 1) { nodes { position description quantity exactAmount amount { amountMinor formatted } } pageInfo { hasNextPage } }
      } }`,
      { id: invoiceId },
    );
    expect(data.invoice).toEqual({
      status: "OPEN",
      account: { id: accountId },
      periodStart: "2026-10-01T00:00:00.000Z",
      total: { amountMinor: "1050", currency: "USD", formatted: "USD 10.50" },
      lines: {
        nodes: [
          {
            position: 1,
            description: "Tokens",
            quantity: "20",
            exactAmount: "10",
            amount: { amountMinor: "1000", formatted: "USD 10.00" },
          },
        ],
        pageInfo: { hasNextPage: true },
      },
    });
  });

  it("answers NOT_FOUND for an unknown id, leaving the rest of the answer intact", async () => {
    const { body } = await gql(`{ now account(id: "no-such-account") { id } }`);
    expect(codes(body)).toEqual(["NOT_FOUND"]);
    expect(body.errors?.[0]?.path).toEqual(["account"]);
    expect(body.data).toEqual({ now: expect.any(String), account: null });
  });

  it("reads an account's throttle state and fraud decisions with their reasons", async () => {
    const { accountId } = await seedPricedAccount();
    const db = testDb();
    try {
      await db.query(
        `insert into account_risk (account_id, level, score, reasons, level_since, updated_at)
         values ($1, 'limited', 72, $2, '2026-12-01T10:00:00Z', '2026-12-01T10:00:00Z')`,
        [
          accountId,
          JSON.stringify([
            { rule: "card_velocity", points: 40, detail: "3 signups with this card in 24 h" },
          ]),
        ],
      );
      await db.query(
        `insert into risk_audit (id, account_id, action, actor, reason, after, reasons, created_at)
         values ($1, $2, 'decision.signup', 'system', 'Scored a signup', $3, $4, '2026-12-01T09:00:00Z')`,
        [
          `aud_${unique("r")}`,
          accountId,
          JSON.stringify({ decision: "review", score: 72 }),
          JSON.stringify([
            { rule: "disposable_email", points: 32, detail: "mailinator.com is disposable" },
          ]),
        ],
      );
    } finally {
      await db.end();
    }
    const data = await gqlData<{ account: unknown }>(
      `query($id: ID!) { account(id: $id) {
        throttleState { level score reasons { rule points detail } levelSince restrictions { rateTier deployments } }
        riskDecisions { nodes { kind decision score reasons { rule points } } }
      } }`,
      { id: accountId },
    );
    expect(data.account).toEqual({
      throttleState: {
        level: "LIMITED",
        score: 72,
        reasons: [
          { rule: "card_velocity", points: 40, detail: "3 signups with this card in 24 h" },
        ],
        levelSince: "2026-12-01T10:00:00.000Z",
        restrictions: { rateTier: "restricted", deployments: "review" },
      },
      riskDecisions: {
        nodes: [
          {
            kind: "signup",
            decision: "REVIEW",
            score: 72,
            reasons: [{ rule: "disposable_email", points: 32 }],
          },
        ],
      },
    });
  });

  it("reads pipeline health with every part filled from the stack", async () => {
    const data = await gqlData<{ pipelineHealth: Record<string, unknown> }>(
      `{ pipelineHealth { checkedAt
          outbox { accountsChecked rows unreachable }
          deadLetters { pending }
          retrying { batches }
          ledgerLag { windowMinutes batches } } }`,
    );
    const health = data.pipelineHealth as {
      outbox: { accountsChecked: number; unreachable: number };
      ledgerLag: { windowMinutes: number };
    };
    expect(health.ledgerLag.windowMinutes).toBe(15);
    expect(health.outbox.unreachable).toBe(0);
    expect(health.outbox.accountsChecked).toBeGreaterThan(0);
  });

  it("reports a lag beyond GraphQL's 32-bit Int (a batch applied 40 days late)", async () => {
    const db = testDb();
    const batch = unique("late-batch");
    try {
      await db.query(
        `insert into rated_batches (batch_id, account_id, records, events, sent_at, received_at)
         values ($1, $2, 1, 1, now() - interval '40 days', now())`,
        [batch, unique("late-acct")],
      );
      const data = await gqlData<{ pipelineHealth: { ledgerLag: { maxLagMs: number } } }>(
        "{ pipelineHealth { ledgerLag { maxLagMs avgLagMs events } } }",
      );
      // Other files' batches share the window and may be later still: compare with the table.
      const { rows } = await db.query<{ max_ms: string }>(
        `select (extract(epoch from max(received_at - sent_at)) * 1000)::bigint::text as max_ms
           from rated_batches where received_at >= now() - interval '15 minutes'`,
      );
      expect(Number(rows[0]?.max_ms)).toBeGreaterThanOrEqual(40 * 24 * 3_600_000);
      expect(data.pipelineHealth.ledgerLag.maxLagMs).toBe(Number(rows[0]?.max_ms));
    } finally {
      await db.query("delete from rated_batches where batch_id = $1", [batch]);
      await db.end();
    }
  });
});
