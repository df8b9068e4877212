import { DurableObject } from "cloudflare:workers";
import { openDatabase } from "../lib/adapters/postgres.ts";
import type { CreditSnapshot } from "../lib/billing/credits.ts";
import { flushMeterNotifications, readNotificationUrl } from "../lib/billing/notifications.ts";
import { qstashPublisher } from "../lib/billing/notify.ts";
import type { AccountConfig } from "../lib/catalogue/account-config.ts";
import { loadAccountConfig, readConfigRevision } from "../lib/catalogue/account-config.ts";
import { type Clock, systemClock } from "../lib/clock/clock.ts";
import { configFor } from "../lib/env/config.ts";
import { screenUsageForRisk } from "../lib/fraud/usage-screen.ts";
import type { EventRejection, EventRejectionCode } from "../lib/ingest/rejections.ts";
import { createLogger, type Logger } from "../lib/log/logger.ts";
import { applyBatch, type IndexedEvent } from "../lib/metering/apply-batch.ts";
import { compileMeterContext } from "../lib/metering/compile-context.ts";
import { applyCreditSnapshot, drawDownCredits } from "../lib/metering/credits.ts";
import { MeterCache } from "../lib/metering/meter-cache.ts";
import type { MeterContext } from "../lib/metering/meter-context.ts";
import {
  appendToOutbox,
  confirmBatches,
  dueMessages,
  hasUnsent,
  MAX_MESSAGES_PER_SEND,
  markSent,
  markUnsent,
  nextResendAtMs,
  type OutboxMessage,
  outboxStats,
  type SeqCounter,
  seqCounterFrom,
} from "../lib/metering/outbox.ts";
import {
  closeSilentSeries,
  type PeriodTotals,
  pruneExpired,
  readPeriodTotals,
  sealPeriod,
} from "../lib/metering/periods.ts";
import { migrateMeterSchema } from "../lib/metering/schema.ts";
import { PeriodAmountCeilingError, readSpend, recordSpend } from "../lib/metering/spend.ts";
import type { Sql } from "../lib/metering/sql.ts";
import { readUsage, type UsageQuery, type UsageReport } from "../lib/metering/usage.ts";

/**
 * Compiled configurations shared by the meters of this isolate, by account, revision and window.
 * Lifetime: the isolate. A meter that wakes again (after eviction) skips recompiling calendars
 * and prices; a new revision is a new key, so a stale entry is never used.
 */
const COMPILED_CONTEXTS = new Map<string, MeterContext>();
const MAX_COMPILED_CONTEXTS = 2_000;

/** How long after an ingest the alarm flushes the outbox, so close batches share messages. */
const FLUSH_DELAY_MS = 200;
/** Retry delay after a failed flush, doubled per consecutive failure up to the cap. */
const FLUSH_RETRY_BASE_MS = 1_000;
const FLUSH_RETRY_MAX_MS = 60_000;
/** How often the cached configuration is compared with the catalogue's revision. */
const CONFIG_CHECK_INTERVAL_MS = 60_000;
/** Minimum spacing of reloads triggered by events naming meters the cache does not know. */
const UNKNOWN_METER_RELOAD_MS = 5_000;
/** How often the alarm prunes dedup entries, buckets and old periods. */
const PRUNE_INTERVAL_MS = 60 * 60_000;
/** Retry delay after a failed notification flush, doubled per failure up to the cap. */
const NOTIFY_RETRY_BASE_MS = 5_000;
const NOTIFY_RETRY_MAX_MS = 5 * 60_000;

export type IngestReply =
  | {
      status: "ok";
      accepted: number;
      duplicates: number;
      rejected: EventRejection[];
      /** With `handOff`: the rated-usage messages this call produced, for the caller to send. */
      outbox: OutboxMessage[];
    }
  | { status: "unauthenticated" }
  | { status: "unknown_account" }
  | { status: "unavailable"; detail: string }
  /** Every event of the call refused with one code; nothing was stored. */
  | { status: "refused"; code: EventRejectionCode; detail: string };

export type UsageReply =
  | { status: "ok"; report: UsageReport; spend: ReturnType<typeof readSpend> }
  | { status: "unauthenticated" }
  | { status: "unknown_account" }
  | { status: "unavailable"; detail: string };

export interface IngestRequest {
  accountId: string;
  /**
   * The events, or (cheaper across the RPC boundary than a thousand small objects) the same
   * array as JSON text in `eventsJson`.
   */
  events?: IndexedEvent[];
  eventsJson?: string;
  /** SHA-256 (hex) of the account key used, or null when the admin key was verified upstream. */
  keyHash: string | null;
  /**
   * The caller sends the call's rated-usage messages itself (the Worker batches every account's
   * messages of a request into one queue send). Without it, the meter's alarm sends them.
   */
  handOff?: boolean;
}

/**
 * Whether revision `next` (`<account revision>:<meters revision>`) supersedes `current`: both
 * counters only grow, so a newer configuration has neither part smaller and one part larger.
 */
export function isNewerRevision(next: string, current: string): boolean {
  const [nextAccount = 0, nextMeters = 0] = next.split(":").map(Number);
  const [account = 0, meters = 0] = current.split(":").map(Number);
  return (
    nextAccount >= account && nextMeters >= meters && (nextAccount > account || nextMeters > meters)
  );
}

/**
 * One per account (named by the account id): counts every accepted event exactly once, rates
 * it, keeps the period totals the usage API reads, and feeds the rated-usage queue through a
 * transactional outbox. See docs/ingestion.md.
 */
export class AccountMeter extends DurableObject<Env> {
  readonly sql: Sql;
  /** Tests replace it to pin time; production reads the system clock. */
  clock: Clock = systemClock;
  #context: MeterContext | null = null;
  #accountId: string | null = null;
  #configCheckedMs = 0;
  #unknownMeterReloadMs = 0;
  #loading: Promise<MeterContext | null> | null = null;
  #flushFailures = 0;
  /** Write-through copies of the rows ingestion updates (lib/metering/meter-cache.ts). */
  readonly #cache = new MeterCache();
  /** Outbox sequence numbers, continued from storage when the object wakes. */
  #seqs: SeqCounter | null = null;
  #notifyFailures = 0;
  /** When the alarm is armed for, null when it is not, undefined until read from storage. */
  #alarmAtMs: number | null | undefined = undefined;
  #log: Logger;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql as unknown as Sql;
    this.#log = createLogger({ level: "info", bindings: { component: "account-meter" } });
    ctx.blockConcurrencyWhile(async () => {
      migrateMeterSchema(this.sql);
      const row = this.sql
        .exec<{ value: string }>("SELECT value FROM meta WHERE key = 'account_id'")
        .toArray()[0];
      this.#accountId = row?.value ?? null;
    });
  }

  #remember(accountId: string): void {
    if (this.#accountId === accountId) {
      return;
    }
    if (this.#accountId !== null) {
      throw new Error(`account meter for ${this.#accountId} was called for ${accountId}`);
    }
    this.#accountId = accountId;
    this.#log = this.#log.child({ accountId });
    this.sql.exec(
      "INSERT INTO meta (key, value) VALUES ('account_id', ?) ON CONFLICT (key) DO NOTHING",
      accountId,
    );
  }

  #isActiveKey(hash: string): boolean {
    return (
      this.sql
        .exec<{ n: number }>(
          "SELECT count(*) AS n FROM api_keys WHERE hash = ? AND revoked_ms IS NULL",
          hash,
        )
        .one().n > 0
    );
  }

  #cachedConfig(): AccountConfig | null {
    const row = this.sql
      .exec<{ value: string }>("SELECT value FROM meta WHERE key = 'config'")
      .toArray()[0];
    return row ? (JSON.parse(row.value) as AccountConfig) : null;
  }

  /**
   * Makes `config` current: compiled (or taken from the isolate's cache of compiled contexts),
   * and stored unless it was just read from storage.
   */
  #install(config: AccountConfig, options: { store: boolean } = { store: true }): MeterContext {
    const settings = configFor(this.env);
    const key = `${config.accountId}\u0000${config.revision}\u0000${settings.lateArrivalWindowDays}`;
    let context = COMPILED_CONTEXTS.get(key);
    if (!context) {
      context = compileMeterContext(config, settings.lateArrivalWindowDays);
      if (COMPILED_CONTEXTS.size >= MAX_COMPILED_CONTEXTS) {
        COMPILED_CONTEXTS.clear();
      }
      COMPILED_CONTEXTS.set(key, context);
    }
    if (options.store) {
      this.sql.exec(
        "INSERT INTO meta (key, value) VALUES ('config', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        JSON.stringify(config),
      );
    }
    this.#context = context;
    return context;
  }

  async #fetchConfig(
    accountId: string,
    knownRevision: string | null,
  ): Promise<AccountConfig | null | "unchanged"> {
    const db = openDatabase(configFor(this.env).database, { max: 1 });
    try {
      if (knownRevision !== null) {
        const revision = await readConfigRevision(db, accountId);
        if (revision === knownRevision) {
          return "unchanged";
        }
      }
      return await db.transaction(async (tx) => {
        await tx.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY");
        return loadAccountConfig(tx, accountId);
      });
    } finally {
      this.ctx.waitUntil(db.end());
    }
  }

  /**
   * The compiled configuration, loading or revalidating it from the catalogue when due. Returns
   * null for an account the catalogue does not know. If the catalogue is unreachable a cached
   * configuration is used (its prices stay valid: plan versions only take effect after every
   * meter had time to learn them); with no cache it throws.
   */
  async #contextFor(
    accountId: string,
    meterKeys: Iterable<string> = [],
  ): Promise<MeterContext | null> {
    const now = this.clock.nowMs();
    let context = this.#context;
    if (!context) {
      const cached = this.#cachedConfig();
      if (cached) {
        context = this.#install(cached, { store: false });
      }
    }
    let unknownMeter = false;
    if (context) {
      for (const key of meterKeys) {
        if (!context.meters.has(key)) {
          unknownMeter = true;
          break;
        }
      }
    }
    const due =
      !context ||
      now - this.#configCheckedMs >= CONFIG_CHECK_INTERVAL_MS ||
      (unknownMeter && now - this.#unknownMeterReloadMs >= UNKNOWN_METER_RELOAD_MS);
    if (!due) {
      return context;
    }
    if (unknownMeter) {
      this.#unknownMeterReloadMs = now;
    }
    if (!this.#loading) {
      const knownRevision = context && !unknownMeter ? context.config.revision : null;
      this.#loading = this.#fetchConfig(accountId, knownRevision)
        .then((fetched) => {
          this.#configCheckedMs = this.clock.nowMs();
          if (fetched === "unchanged") {
            return this.#context;
          }
          if (fetched === null) {
            return null;
          }
          return this.#install(fetched);
        })
        .catch((error: unknown) => {
          if (this.#context) {
            this.#log.warn("catalogue unreachable; using cached configuration", { error });
            return this.#context;
          }
          throw error;
        })
        .finally(() => {
          this.#loading = null;
        });
    }
    return this.#loading;
  }

  /** Replaces the cached configuration (the catalogue pushes it after a change). */
  async configure(config: AccountConfig): Promise<void> {
    this.#remember(config.accountId);
    const current = this.#context?.config ?? this.#cachedConfig();
    // Pushes can arrive out of order; never replace a newer configuration with an older one.
    if (current && !isNewerRevision(config.revision, current.revision)) {
      return;
    }
    this.#install(config);
    this.#configCheckedMs = this.clock.nowMs();
  }

  /** Stores an API key's hash; idempotent by key id. */
  async addApiKey(accountId: string, keyId: string, hash: string): Promise<void> {
    this.#remember(accountId);
    this.sql.exec(
      "INSERT INTO api_keys (key_id, hash, created_ms) VALUES (?, ?, ?) ON CONFLICT (key_id) DO NOTHING",
      keyId,
      hash,
      this.clock.nowMs(),
    );
  }

  /** Revokes a key at once: the next request with it is refused. Idempotent. */
  async revokeApiKey(accountId: string, keyId: string): Promise<boolean> {
    this.#remember(accountId);
    return (
      this.sql.exec(
        "UPDATE api_keys SET revoked_ms = ? WHERE key_id = ? AND revoked_ms IS NULL",
        this.clock.nowMs(),
        keyId,
      ).rowsWritten > 0
    );
  }

  /** Whether `hash` is an active key of this account. */
  async authenticate(accountId: string, hash: string): Promise<boolean> {
    this.#remember(accountId);
    return this.#isActiveKey(hash);
  }

  /**
   * Applies one request's events for this account in one storage transaction and reports the
   * outcome per event. Events must already have passed the Worker's shape checks.
   */
  async ingest(request: IngestRequest): Promise<IngestReply> {
    this.#remember(request.accountId);
    const events = request.events ?? (JSON.parse(request.eventsJson ?? "[]") as IndexedEvent[]);
    if (request.keyHash !== null && !this.#isActiveKey(request.keyHash)) {
      return { status: "unauthenticated" };
    }
    let context: MeterContext | null;
    try {
      context = await this.#contextFor(request.accountId, new Set(events.map((e) => e.meter)));
    } catch (error) {
      this.#log.error("configuration unavailable", { error });
      return { status: "unavailable", detail: "The catalogue could not be read; retry shortly." };
    }
    if (!context) {
      return { status: "unknown_account" };
    }
    const nowMs = this.clock.nowMs();
    const ready = context;
    const handOff = request.handOff === true;
    let notified = false;
    let outbox: OutboxMessage[] = [];
    const seqs = this.#seqCounter();
    const cache = this.#cache;
    let batch: ReturnType<typeof applyBatch>;
    try {
      batch = this.#transaction(() => {
        const result = applyBatch(this.sql, ready, events, nowMs, cache);
        if (result.records.length > 0 || result.events.length > 0) {
          outbox = appendToOutbox(
            this.sql,
            seqs,
            request.accountId,
            nowMs,
            result.records,
            result.events,
            handOff,
          );
        }
        const alerts = recordSpend(this.sql, ready.config, result.spendDeltas, cache);
        for (const alert of alerts) {
          const id = `spend:${alert.periodStartMs}:${alert.percent}`;
          this.sql.exec(
            `INSERT INTO notifications (id, created_ms, kind, payload) VALUES (?, ?, ?, ?)
             ON CONFLICT DO NOTHING`,
            id,
            nowMs,
            alert.capReached ? "spend.cap_reached" : "spend.threshold_crossed",
            JSON.stringify({ accountId: request.accountId, ...alert }),
          );
          notified = true;
        }
        // Billing: prepaid credit drawn down by what this batch rated (lib/metering/credits.ts).
        if (result.spendDeltas.size > 0) {
          drawDownCredits(this.sql, ready.periodContaining);
        }
        return result;
      });
    } catch (error) {
      if (!(error instanceof PeriodAmountCeilingError)) {
        throw error;
      }
      this.#log.warn("batch refused: period amount ceiling", {
        accountId: request.accountId,
        periodStartMs: error.periodStartMs,
        amount: error.amount,
      });
      const period = new Date(error.periodStartMs).toISOString();
      return {
        status: "refused",
        code: "AMOUNT_OUT_OF_RANGE",
        detail:
          `These events would rate the period starting ${period} at ${error.amount} ` +
          `${error.currency}, above the ceiling of ${error.ceiling}; nothing was stored. ` +
          "Check the values (a unit mix-up?) and resend the events without the outlier.",
      };
    }
    if (outbox.length > 0 || notified) {
      // Handed-over messages only need the resend check; anything else goes out shortly.
      const resendAfterMs = configFor(this.env).outboxResendSeconds * 1000;
      await this.#scheduleAlarm(nowMs + (handOff && !notified ? resendAfterMs : FLUSH_DELAY_MS));
    }
    return {
      status: "ok",
      accepted: batch.accepted,
      duplicates: batch.duplicates,
      rejected: batch.rejected,
      outbox: handOff ? outbox : [],
    };
  }

  /** The current (or a named) period's usage, exact at the moment of the call. */
  async usage(accountId: string, query: UsageQuery, keyHash: string | null): Promise<UsageReply> {
    this.#remember(accountId);
    if (keyHash !== null && !this.#isActiveKey(keyHash)) {
      return { status: "unauthenticated" };
    }
    let context: MeterContext | null;
    try {
      context = await this.#contextFor(accountId);
    } catch (error) {
      this.#log.error("configuration unavailable", { error });
      return { status: "unavailable", detail: "The catalogue could not be read; retry shortly." };
    }
    if (!context) {
      return { status: "unknown_account" };
    }
    const nowMs = this.clock.nowMs();
    const report = readUsage(this.sql, context, query, nowMs);
    return {
      status: "ok",
      report,
      spend: readSpend(this.sql, context.config, report.period.startMs),
    };
  }

  /**
   * Whether the current period's hard spend cap is reached, for the fraud admission check
   * (lib/fraud/deployment.ts). Answers from the configuration the meter already holds, without
   * waiting for its periodic revalidation: budget changes reach the meter by push, and an
   * admission check must not pay a Postgres round trip. Loads the configuration only when the
   * meter has none.
   */
  async spendCapped(
    accountId: string,
    keyHash: string | null,
  ): Promise<{ status: "ok"; capped: boolean } | Exclude<UsageReply, { status: "ok" }>> {
    this.#remember(accountId);
    if (keyHash !== null && !this.#isActiveKey(keyHash)) {
      return { status: "unauthenticated" };
    }
    let context = this.#context;
    if (!context) {
      const cached = this.#cachedConfig();
      try {
        context = cached
          ? this.#install(cached, { store: false })
          : await this.#contextFor(accountId);
      } catch (error) {
        this.#log.error("configuration unavailable", { error });
        return { status: "unavailable", detail: "The catalogue could not be read; retry shortly." };
      }
    }
    if (!context) {
      return { status: "unknown_account" };
    }
    const period = context.periodContaining(this.clock.nowMs());
    return { status: "ok", capped: readSpend(this.sql, context.config, period.startMs).capped };
  }

  /**
   * Seals a billing period: later events for it are refused with PERIOD_CLOSED, open
   * time-weighted series stop at their last sample, and the outbox is flushed promptly.
   * Idempotent; returns the period's final totals.
   */
  async seal(accountId: string, periodStartMs: number, periodEndMs: number): Promise<PeriodTotals> {
    this.#remember(accountId);
    const nowMs = this.clock.nowMs();
    this.#cache.clear();
    const totals = this.#transaction(() => {
      sealPeriod(this.sql, periodStartMs, periodEndMs, nowMs);
      return readPeriodTotals(this.sql, periodStartMs);
    });
    await this.#scheduleAlarm(nowMs);
    return totals;
  }

  /**
   * Billing: replaces the prepaid-credit projection with a Postgres snapshot (after an invoice
   * or a grant change). Older snapshots than the one held are ignored.
   */
  async syncCredits(accountId: string, snapshot: CreditSnapshot): Promise<void> {
    this.#remember(accountId);
    const context = await this.#contextFor(accountId);
    if (!context) {
      return;
    }
    this.ctx.storage.transactionSync(() =>
      applyCreditSnapshot(this.sql, snapshot, context.periodContaining),
    );
  }

  /**
   * Billing: publishes pending notifications (budget alerts, the hard cap) through QStash to the
   * account's webhook and, for the cap, the platform. True when none is left.
   */
  async #flushNotifications(accountId: string): Promise<boolean> {
    try {
      const pending = this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM notifications");
      if (pending.one().n === 0) {
        this.#notifyFailures = 0;
        return true;
      }
      const config = configFor(this.env);
      const db = openDatabase(config.database, { max: 1 });
      let accountUrl: string | null;
      try {
        accountUrl = await readNotificationUrl(db, accountId);
      } finally {
        this.ctx.waitUntil(db.end());
      }
      const result = await flushMeterNotifications(this.sql, {
        accountId,
        targets: { accountUrl, platformUrl: config.platformNotificationUrl ?? null },
        publisher: qstashPublisher(config.qstash),
        log: this.#log,
      });
      if (result.remaining === 0) {
        this.#notifyFailures = 0;
        return true;
      }
    } catch (error) {
      this.#log.warn("notification flush failed; will retry", { error });
    }
    this.#notifyFailures += 1;
    return false;
  }

  /** A period's totals per meter and segment, plus pipeline facts (for drift checks). */
  async periodTotals(accountId: string, periodStartMs: number): Promise<PeriodTotals> {
    this.#remember(accountId);
    return readPeriodTotals(this.sql, periodStartMs);
  }

  /** Arms the alarm for `atMs` unless it already fires earlier; the time is kept in memory. */
  async #scheduleAlarm(atMs: number): Promise<void> {
    if (this.#alarmAtMs === undefined) {
      this.#alarmAtMs = await this.ctx.storage.getAlarm();
    }
    if (this.#alarmAtMs === null || this.#alarmAtMs > atMs) {
      this.#alarmAtMs = atMs;
      await this.ctx.storage.setAlarm(atMs);
    }
  }

  /**
   * Flushes the outbox to the rated-usage queue (at least once; consumers dedup by batch id),
   * closes series silent past their heartbeat, and prunes expired state. Re-arms itself while
   * there is work left.
   */
  override async alarm(): Promise<void> {
    this.#alarmAtMs = null;
    const nowMs = this.clock.nowMs();
    const accountId = this.#accountId;
    let nextMs: number | null = null;
    if (accountId !== null) {
      const flushed = await this.#flush(nowMs);
      if (!flushed) {
        const delay = Math.min(FLUSH_RETRY_BASE_MS * 2 ** this.#flushFailures, FLUSH_RETRY_MAX_MS);
        nextMs = nowMs + delay;
      }
      if (!(await this.#flushNotifications(accountId))) {
        const delay = Math.min(
          NOTIFY_RETRY_BASE_MS * 2 ** (this.#notifyFailures - 1),
          NOTIFY_RETRY_MAX_MS,
        );
        nextMs = Math.min(nextMs ?? Number.POSITIVE_INFINITY, nowMs + delay);
      }
    }
    const context = this.#context;
    const heartbeatDueMs = context ? closeSilentSeries(this.sql, context, nowMs) : null;
    if (heartbeatDueMs !== null) {
      nextMs = nextMs === null ? heartbeatDueMs : Math.min(nextMs, heartbeatDueMs);
    }
    const lastPrune = Number(
      this.sql
        .exec<{ value: string }>("SELECT value FROM meta WHERE key = 'pruned_ms'")
        .toArray()[0]?.value ?? 0,
    );
    if (context && nowMs - lastPrune >= PRUNE_INTERVAL_MS) {
      this.#cache.clear();
      this.#transaction(() => {
        pruneExpired(this.sql, nowMs, context.lateArrivalWindowMs);
        this.sql.exec(
          "INSERT INTO meta (key, value) VALUES ('pruned_ms', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
          String(nowMs),
        );
      });
    }
    // Fraud: screen recent CPU usage for the mining pattern (logic in lib/fraud/usage-screen.ts).
    if (accountId !== null && context) {
      await screenUsageForRisk({
        sql: this.sql,
        meters: context.meters.values(),
        accountId,
        nowMs,
        work: {
          send: async (body) => {
            await this.env.WORK.send(body, { contentType: "json" });
          },
        },
        log: this.#log,
      });
    }
    if (hasUnsent(this.sql) && nextMs === null) {
      nextMs = nowMs + FLUSH_DELAY_MS;
    }
    const resendAtMs = nextResendAtMs(this.sql, configFor(this.env).outboxResendSeconds * 1000);
    if (resendAtMs !== null) {
      nextMs = nextMs === null ? resendAtMs : Math.min(nextMs, resendAtMs);
    }
    if (nextMs !== null) {
      await this.#scheduleAlarm(nextMs);
    }
  }

  /**
   * Sends every batch that is due (new, or unconfirmed past the resend delay); true when
   * nothing due is left. Rows stay until the rated-usage consumer confirms both sinks hold them
   * (`confirmBatches`), so a message lost anywhere after the queue accepted it is sent again.
   */
  async #flush(nowMs: number): Promise<boolean> {
    const resendAfterMs = configFor(this.env).outboxResendSeconds * 1000;
    for (;;) {
      const messages = dueMessages(this.sql, nowMs, MAX_MESSAGES_PER_SEND, resendAfterMs);
      if (messages.length === 0) {
        this.#flushFailures = 0;
        return true;
      }
      try {
        await this.env.RATED_USAGE.sendBatch(
          messages.map((m) => ({ body: m.body, contentType: "text" as const })),
        );
      } catch (error) {
        this.#flushFailures += 1;
        this.#log.warn("outbox flush failed; will retry", { error, failures: this.#flushFailures });
        return false;
      }
      markSent(
        this.sql,
        messages.map((m) => m.batchId),
        nowMs,
      );
    }
  }

  /**
   * The caller could not send messages it took with `handOff`: they go back to the meter, whose
   * alarm sends them now.
   */
  async handBack(accountId: string, batchIds: string[]): Promise<number> {
    this.#remember(accountId);
    const changed = this.ctx.storage.transactionSync(() => markUnsent(this.sql, batchIds));
    await this.#scheduleAlarm(this.clock.nowMs());
    return changed;
  }

  /**
   * One storage transaction. If it throws, the write-through cache may hold rows the rollback
   * undid, so it is emptied before the error goes on.
   */
  #transaction<T>(work: () => T): T {
    try {
      return this.ctx.storage.transactionSync(work);
    } catch (error) {
      this.#cache.clear();
      this.#seqs = null;
      throw error;
    }
  }

  #seqCounter(): SeqCounter {
    if (!this.#seqs) {
      this.#seqs = seqCounterFrom(this.sql);
    }
    return this.#seqs;
  }

  /**
   * The rated-usage consumer's receipt: both sinks hold these batches, so their outbox rows go.
   * Idempotent. Returns the rows deleted.
   */
  async confirmBatches(accountId: string, batchIds: string[]): Promise<number> {
    this.#remember(accountId);
    return this.ctx.storage.transactionSync(() => confirmBatches(this.sql, batchIds));
  }

  /**
   * Billing periods this meter holds totals for, newest first, at most `limit`. Read-only; the
   * drift check uses it to find the periods to compare when none is named.
   */
  async knownPeriods(
    accountId: string,
    limit: number,
  ): Promise<{ startMs: number; endMs: number; sealed: boolean }[]> {
    if (this.#accountId !== null && this.#accountId !== accountId) {
      throw new Error(`account meter for ${this.#accountId} was called for ${accountId}`);
    }
    return this.sql
      .exec<{ start_ms: number; end_ms: number; sealed_ms: number | null }>(
        "SELECT start_ms, end_ms, sealed_ms FROM periods ORDER BY start_ms DESC LIMIT ?",
        limit,
      )
      .toArray()
      .map((row) => ({ startMs: row.start_ms, endMs: row.end_ms, sealed: row.sealed_ms !== null }));
  }

  /**
   * Benchmark baseline, local environment only: one minimal durable write (a row in `meta`) in
   * one storage transaction, so the benchmark can measure what the runtime's storage allows.
   */
  async diagnosticWrite(accountId: string, token: string): Promise<void> {
    if (configFor(this.env).environment !== "local") {
      throw new Error("diagnosticWrite is for local benchmarks only");
    }
    this.#remember(accountId);
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(
        `INSERT INTO meta (key, value) VALUES ('diagnostic', ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
        token,
      );
    });
  }

  /** Outbox depth and age, for pipeline health. */
  async pipelineState(): Promise<{
    outboxRows: number;
    oldestCreatedMs: number | null;
    unsent: number;
    unconfirmed: number;
    stuck: number;
  }> {
    const stats = outboxStats(this.sql);
    return {
      outboxRows: stats.rows,
      oldestCreatedMs: stats.oldestCreatedMs,
      unsent: stats.unsent,
      unconfirmed: stats.unconfirmed,
      stuck: stats.stuck,
    };
  }
}
