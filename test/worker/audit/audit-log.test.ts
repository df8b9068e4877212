import { describe, expect, it } from "vitest";
import { appendAudit, GENESIS_HASH, verifyAuditChain } from "../../../lib/audit/audit-log.ts";
import { FixedClock } from "../../../lib/clock/clock.ts";
import { createIdGenerator } from "../../../lib/ids/ids.ts";
import { testDb } from "../support/catalogue.ts";
import { call, callJson, unique } from "../support/http.ts";

const clock = new FixedClock(Date.UTC(2026, 11, 1, 12, 0, 0));
const ids = createIdGenerator(() => clock.nowMs());

async function appendMany(accountId: string, count: number): Promise<void> {
  const db = testDb();
  try {
    for (let i = 0; i < count; i += 1) {
      await db.transaction((tx) =>
        appendAudit(tx, ids, {
          accountId,
          actor: "system:test",
          action: "invoice.finalized",
          subjectType: "invoice",
          subjectId: `inv_${i}`,
          reason: "period closed",
          before: { status: "draft" },
          after: { status: "open", total: "12.34" },
          amountMinor: 1234n,
          currency: "USD",
          occurredAtMs: clock.nowMs() + i * 1000,
        }),
      );
    }
  } finally {
    await db.end();
  }
}

/** Tampers as a database owner would: the append-only trigger is switched off first. */
async function tamper(sql: string, params: unknown[]): Promise<void> {
  const db = testDb();
  try {
    await db.transaction(async (tx) => {
      await tx.query("alter table audit_log disable trigger audit_log_append_only");
      await tx.query(sql, params);
      await tx.query("alter table audit_log enable trigger audit_log_append_only");
    });
  } finally {
    await db.end();
  }
}

describe("audit trail", () => {
  it("chains records per account with gapless sequence numbers", async () => {
    const account = unique("aud");
    await appendMany(account, 3);
    const db = testDb();
    try {
      const { rows } = await db.query<{ seq: string; prev_hash: string; hash: string }>(
        "select seq::text, prev_hash, hash from audit_log where account_id = $1 order by seq",
        [account],
      );
      expect(rows.map((r) => r.seq)).toEqual(["1", "2", "3"]);
      expect(rows[0]?.prev_hash).toBe(GENESIS_HASH);
      expect(rows[1]?.prev_hash).toBe(rows[0]?.hash);
      expect(rows[2]?.prev_hash).toBe(rows[1]?.hash);
      expect(await verifyAuditChain(db, account)).toEqual({
        accountId: account,
        ok: true,
        records: 3,
        headSeq: 3,
        problems: [],
      });
    } finally {
      await db.end();
    }
  });

  it("keeps the sequence gapless under concurrent appends", async () => {
    const account = unique("aud");
    await Promise.all(Array.from({ length: 6 }, () => appendMany(account, 2)));
    const db = testDb();
    try {
      const verification = await verifyAuditChain(db, account);
      expect(verification).toEqual({
        accountId: account,
        ok: true,
        records: 12,
        headSeq: 12,
        problems: [],
      });
    } finally {
      await db.end();
    }
  });

  it("refuses updates and deletes through the application role", async () => {
    const account = unique("aud");
    await appendMany(account, 1);
    const db = testDb();
    try {
      await expect(
        db.query("update audit_log set reason = 'x' where account_id = $1", [account]),
      ).rejects.toThrow(/append-only/);
      await expect(
        db.query("delete from audit_log where account_id = $1", [account]),
      ).rejects.toThrow(/append-only/);
    } finally {
      await db.end();
    }
  });

  it("detects an edited record, a deleted record and a deleted tail", async () => {
    const edited = unique("aud");
    const holed = unique("aud");
    const cut = unique("aud");
    await Promise.all([appendMany(edited, 3), appendMany(holed, 3), appendMany(cut, 3)]);
    await tamper(
      'update audit_log set after = \'{"status":"paid"}\' where account_id = $1 and seq = 2',
      [edited],
    );
    await tamper("delete from audit_log where account_id = $1 and seq = 2", [holed]);
    await tamper("delete from audit_log where account_id = $1 and seq = 3", [cut]);
    const db = testDb();
    try {
      expect((await verifyAuditChain(db, edited)).problems).toEqual([
        { seq: 2, problem: "hash_mismatch" },
      ]);
      expect((await verifyAuditChain(db, holed)).problems).toEqual([
        { seq: 2, problem: "gap" },
        { seq: 3, problem: "broken_link" },
      ]);
      expect((await verifyAuditChain(db, cut)).problems).toEqual([
        { seq: 3, problem: "missing_tail" },
      ]);
    } finally {
      await db.end();
    }
  });

  it("serves the records and the verification to the admin key only", async () => {
    const account = unique("aud");
    await appendMany(account, 3);
    const page = await callJson<{ data: { seq: number }[]; nextBefore: number | null }>(
      `/v1/accounts/${account}/audit?limit=2`,
      200,
    );
    expect(page.data.map((r) => r.seq)).toEqual([3, 2]);
    expect(page.nextBefore).toBe(2);
    const rest = await callJson<{ data: { seq: number }[] }>(
      `/v1/accounts/${account}/audit?limit=2&before=2`,
      200,
    );
    expect(rest.data.map((r) => r.seq)).toEqual([1]);
    expect(await callJson(`/v1/accounts/${account}/audit/verify`, 200)).toMatchObject({
      ok: true,
      records: 3,
    });
    expect((await call(`/v1/accounts/${account}/audit`, { key: null })).status).toBe(401);
  });
});
