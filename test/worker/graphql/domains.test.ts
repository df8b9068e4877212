import { describe, expect, it, vi } from "vitest";
import { appendAudit } from "../../../lib/audit/audit-log.ts";
import { createIdGenerator } from "../../../lib/ids/ids.ts";
import { recordDeadLetters } from "../../../lib/ledger/dead-letters.ts";
import { unique } from "../support/http.ts";
import { gqlData, ingest, seedInvoice, seedPricedAccount, testDb } from "./support.ts";

const HOUR_MS = 3_600_000;

describe("GraphQL reads across the domains", () => {
  it("reads usage history from ClickHouse and a clean drift report once the pipeline drained", async () => {
    const { accountId, meter } = await seedPricedAccount();
    const hour = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - HOUR_MS;
    await ingest(accountId, meter, [
      { id: "h1", value: "1.5", time: new Date(hour + 60_000).toISOString() },
      { id: "h2", value: "2.5", time: new Date(hour + 120_000).toISOString() },
    ]);
    const query = `query($id: ID!, $from: DateTime!, $to: DateTime!) { account(id: $id) {
      usageHistory(from: $from, to: $to, granularity: HOUR) {
        nodes { start meter events valueSum valueMax } truncated }
      drift { clean mismatches errors rows { nodes { meter durableObject { quantity events }
        postgres { quantity } clickhouse { quantity } postgresMatches clickhouseMatches } } }
    } }`;
    const variables = {
      id: accountId,
      from: new Date(hour).toISOString(),
      to: new Date(hour + HOUR_MS).toISOString(),
    };
    // The meter flushes its outbox through the queue to both sinks within a few seconds.
    const data = await vi.waitFor(
      async () => {
        const answer = await gqlData<{
          account: { usageHistory: { nodes: unknown[] }; drift: { clean: boolean } };
        }>(query, variables);
        expect(answer.account.usageHistory.nodes).toHaveLength(1);
        expect(answer.account.drift.clean).toBe(true);
        return answer;
      },
      { timeout: 30_000, interval: 500 },
    );
    expect(data.account).toEqual({
      usageHistory: {
        nodes: [
          {
            start: new Date(hour).toISOString(),
            meter,
            events: 2,
            valueSum: "4",
            valueMax: "2.5",
          },
        ],
        truncated: false,
      },
      drift: {
        clean: true,
        mismatches: 0,
        errors: [],
        rows: {
          nodes: [
            {
              meter,
              durableObject: { quantity: "4", events: 2 },
              postgres: { quantity: "4" },
              clickhouse: { quantity: "4" },
              postgresMatches: true,
              clickhouseMatches: true,
            },
          ],
        },
      },
    });
  });

  it("reads an invoice's payments with their disputes, and an account's credit", async () => {
    const { accountId } = await seedPricedAccount();
    const invoiceId = unique("inv_pay");
    const db = testDb();
    try {
      await seedInvoice(db, {
        id: invoiceId,
        accountId,
        number: unique("PAY"),
        periodStart: "2026-10-01T00:00:00Z",
        periodEnd: "2026-11-01T00:00:00Z",
        totalMinor: 5000,
        lines: [],
      });
      for (const [no, status, failure] of [
        [1, "failed", "card_declined"],
        [2, "succeeded", null],
      ] as const) {
        await db.query(
          `insert into payment_attempts (id, invoice_id, account_id, attempt_no, idempotency_key,
                                         status, origin, amount_minor, currency, failure_code,
                                         stripe_charge_id, created_at, updated_at)
           values ($1, $2, $3, $4, $5, $6, 'charge', 5000, 'USD', $7, $8, now(), now())`,
          [
            `${invoiceId}_att${no}`,
            invoiceId,
            accountId,
            no,
            `${invoiceId}:att_${no}`,
            status,
            failure,
            `ch_${invoiceId}_${no}`,
          ],
        );
      }
      await db.query(
        `insert into payment_disputes (id, invoice_id, attempt_id, account_id, stripe_charge_id,
                                       amount_minor, currency, reason, status, opened_at,
                                       stripe_state_at, recorded_at, updated_at)
         values ($1, $2, $3, $4, $5, 5000, 'USD', 'fraudulent', 'needs_response', now(), now(), now(), now())`,
        [`dp_${invoiceId}`, invoiceId, `${invoiceId}_att2`, accountId, `ch_${invoiceId}_2`],
      );
      await db.query(
        `insert into credit_grants (id, account_id, kind, currency, amount_minor, remaining_minor,
                                    priority, effective_at, description, created_at)
         values ($1, $2, 'promotional', 'USD', 2500, 1999, 10, '2026-01-01T00:00:00Z', 'Welcome', now())`,
        [`cg_${invoiceId}`, accountId],
      );
      await db.query(
        `insert into credit_ledger (id, grant_id, account_id, kind, amount_minor, currency,
                                    invoice_id, occurred_at)
         values ($1, $3, $4, 'grant', 2500, 'USD', null, '2026-01-01T00:00:00Z'),
                ($2, $3, $4, 'consume', -501, 'USD', $5, '2026-02-01T00:00:00Z')`,
        [`cl1_${invoiceId}`, `cl2_${invoiceId}`, `cg_${invoiceId}`, accountId, invoiceId],
      );
    } finally {
      await db.end();
    }
    const data = await gqlData<{ invoice: unknown; account: unknown }>(
      `query($invoice: ID!, $account: ID!) {
        invoice(id: $invoice) { payments { nodes { attemptNo status failureCode amount { formatted }
          disputes { nodes { status reason amount { amountMinor } } } } } }
        account(id: $account) { creditBalance { amountMinor formatted }
          creditGrants { nodes { kind amount { amountMinor } remaining { amountMinor } description
            movements { nodes { kind amount { amountMinor formatted } invoice { id } occurredAt } } } } }
      }`,
      { invoice: invoiceId, account: accountId },
    );
    expect(data).toEqual({
      invoice: {
        payments: {
          nodes: [
            {
              attemptNo: 1,
              status: "FAILED",
              failureCode: "card_declined",
              amount: { formatted: "USD 50.00" },
              disputes: { nodes: [] },
            },
            {
              attemptNo: 2,
              status: "SUCCEEDED",
              failureCode: null,
              amount: { formatted: "USD 50.00" },
              disputes: {
                nodes: [
                  {
                    status: "needs_response",
                    reason: "fraudulent",
                    amount: { amountMinor: "5000" },
                  },
                ],
              },
            },
          ],
        },
      },
      account: {
        creditBalance: [{ amountMinor: "1999", formatted: "USD 19.99" }],
        creditGrants: {
          nodes: [
            {
              kind: "promotional",
              amount: { amountMinor: "2500" },
              remaining: { amountMinor: "1999" },
              description: "Welcome",
              movements: {
                nodes: [
                  {
                    kind: "GRANT",
                    amount: { amountMinor: "2500", formatted: "USD 25.00" },
                    invoice: null,
                    occurredAt: "2026-01-01T00:00:00.000Z",
                  },
                  {
                    kind: "CONSUME",
                    amount: { amountMinor: "-501", formatted: "USD -5.01" },
                    invoice: { id: invoiceId },
                    occurredAt: "2026-02-01T00:00:00.000Z",
                  },
                ],
              },
            },
          ],
        },
      },
    });
  });

  it("reads the audit trail of an account and of one subject, and verifies the chain", async () => {
    const { accountId } = await seedPricedAccount();
    const ids = createIdGenerator();
    const db = testDb();
    try {
      await db.transaction(async (tx) => {
        for (const [action, subjectId, amountMinor] of [
          ["invoice.finalized", "inv_a", 1200n],
          ["invoice.paid", "inv_a", 1200n],
          ["credit.granted", "cg_b", null],
        ] as const) {
          await appendAudit(tx, ids, {
            accountId,
            actor: "system:test",
            action,
            subjectType: action.split(".")[0] as string,
            subjectId,
            reason: `test ${action}`,
            amountMinor,
            currency: amountMinor === null ? null : "USD",
            occurredAtMs: Date.UTC(2026, 11, 1),
          });
        }
      });
    } finally {
      await db.end();
    }
    const data = await gqlData<{ account: unknown; auditRecords: unknown }>(
      `query($id: ID!) {
        account(id: $id) {
          auditChain { ok records headSeq problems { seq } }
          auditRecords(first: 2) { nodes { seq action amount { formatted } } pageInfo { hasNextPage } }
        }
        auditRecords(accountId: $id, subjectType: "invoice", subjectId: "inv_a") { nodes { action reason } }
      }`,
      { id: accountId },
    );
    expect(data).toEqual({
      account: {
        auditChain: { ok: true, records: 3, headSeq: 3, problems: [] },
        auditRecords: {
          nodes: [
            { seq: 3, action: "credit.granted", amount: null },
            { seq: 2, action: "invoice.paid", amount: { formatted: "USD 12.00" } },
          ],
          pageInfo: { hasNextPage: true },
        },
      },
      auditRecords: {
        nodes: [
          { action: "invoice.paid", reason: "test invoice.paid" },
          { action: "invoice.finalized", reason: "test invoice.finalized" },
        ],
      },
    });
  });

  it("lists an account's pending dead letters, and throttled accounts most severe first", async () => {
    const { accountId } = await seedPricedAccount();
    const { accountId: calmer } = await seedPricedAccount();
    const db = testDb();
    try {
      await recordDeadLetters(db, [
        {
          id: `dlq_${unique("x")}`,
          messageId: unique("msg"),
          queue: "meterline-rated-usage-dlq",
          reason: "retries_exhausted",
          batchId: "bat_1",
          accountId,
          body: "{}",
          errorCode: "DEPENDENCY_UNAVAILABLE",
          error: "ClickHouse is unreachable",
          attempts: 8,
          lastFailedAtMs: Date.UTC(2026, 11, 1),
          deadAtMs: Date.UTC(2026, 11, 1, 0, 5),
        },
      ]);
      for (const [id, level, score] of [
        [calmer, "watch", 35],
        [accountId, "suspended", 95],
      ] as const) {
        await db.query(
          `insert into account_risk (account_id, level, score, reasons, level_since, updated_at)
           values ($1, $2, $3, '[]', now(), now())`,
          [id, level, score],
        );
      }
    } finally {
      await db.end();
    }
    const data = await gqlData<{
      deadLetters: unknown;
      account: { pipeline: unknown };
      throttleStates: { nodes: { accountId: string; level: string }[] };
    }>(
      `query($id: ID!) {
        deadLetters(accountId: $id) { nodes { reason errorCode attempts deadAt account { id } } }
        account(id: $id) { pipeline { pendingDeadLetters retryingBatches } }
        throttleStates(first: 100, levels: [WATCH, SUSPENDED]) { nodes { accountId level } }
      }`,
      { id: accountId },
    );
    expect(data.deadLetters).toEqual({
      nodes: [
        {
          reason: "RETRIES_EXHAUSTED",
          errorCode: "DEPENDENCY_UNAVAILABLE",
          attempts: 8,
          deadAt: "2026-12-01T00:05:00.000Z",
          account: { id: accountId },
        },
      ],
    });
    expect(data.account.pipeline).toEqual({ pendingDeadLetters: 1, retryingBatches: 0 });
    const order = data.throttleStates.nodes
      .filter((n) => n.accountId === accountId || n.accountId === calmer)
      .map((n) => n.level);
    expect(order).toEqual(["SUSPENDED", "WATCH"]);
    const levels = data.throttleStates.nodes.map((n) => n.level);
    expect(levels.lastIndexOf("SUSPENDED")).toBeLessThan(levels.indexOf("WATCH"));
  });
});
