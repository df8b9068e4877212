import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { inject } from "vitest";
import worker from "../../../functions/index.ts";
import { type ClickHouseClient, openClickHouse } from "../../../lib/adapters/clickhouse.ts";
import { openDatabase } from "../../../lib/adapters/postgres.ts";
import { configFor } from "../../../lib/env/config.ts";
import { Decimal } from "../../../lib/money/decimal.ts";
import type {
  RatedRecord,
  RatedUsageMessage,
  RawEventRecord,
} from "../../../lib/pipeline/rated-usage-message.ts";

declare module "vitest" {
  // Provided by test/setup/global-stack.ts (outside this project's type scope).
  export interface ProvidedContext {
    stackControlUrl: string;
  }
}

export const RATED_QUEUE = "meterline-rated-usage";
export const DLQ = "meterline-rated-usage-dlq";
/** 2026-11-01T00:00:00Z: the period the hand-built messages belong to. */
export const PERIOD_START_MS = Date.UTC(2026, 10, 1);
export const PERIOD_END_MS = Date.UTC(2026, 11, 1);

/** A closed loopback port: a "sink" there is down for as long as the test likes. */
const NOWHERE = "http://127.0.0.1:9";

/** An env whose ClickHouse is unreachable (same Postgres). */
export function envWithoutClickHouse(): Env {
  return { ...env, CLICKHOUSE_URL: NOWHERE };
}

/**
 * An env whose Postgres is unreachable (same ClickHouse): the connection string names a loopback
 * port where no cluster listens, which the local proxy refuses to dial.
 */
export function envWithoutPostgres(): Env {
  return { ...env, DATABASE_URL: env.DATABASE_URL.replace(/@[^/]+\//, "@127.0.0.1:9/") };
}

export interface MessageSpec {
  /** Raw events in the message, each worth `value` on `meter` (null: counted, no value). */
  events?: number;
  value?: string | null;
  meter?: string;
  /** Amount per event (decimal text). */
  price?: string;
  day?: string;
  /** Milliseconds after the period start of the first event; events are a minute apart. */
  offsetMs?: number;
  properties?: (i: number) => Record<string, string>;
}

/**
 * A rated-usage message as an account meter would send it: `events` raw events and one rated
 * record carrying their sum, with the deterministic ids the outbox uses.
 */
export function ratedMessage(
  accountId: string,
  seq: number,
  spec: MessageSpec = {},
): RatedUsageMessage {
  const count = spec.events ?? 3;
  const valueText = spec.value === undefined ? "1.5" : spec.value;
  const value = valueText === null ? Decimal.ONE : Decimal.from(valueText);
  const price = Decimal.from(spec.price ?? "0.001");
  const meter = spec.meter ?? "tokens";
  const offsetMs = spec.offsetMs ?? 0;
  const events: RawEventRecord[] = Array.from({ length: count }, (_, i) => ({
    id: `e-${seq}-${i}`,
    meter,
    value: valueText === null ? null : value.toString(),
    timeMs: PERIOD_START_MS + offsetMs + i * 60_000,
    receivedMs: PERIOD_START_MS + offsetMs + i * 60_000 + 5,
    periodStartMs: PERIOD_START_MS,
    properties: spec.properties ? spec.properties(i) : { region: i % 2 === 0 ? "eu" : "us" },
  }));
  const quantity = value.mul(Decimal.from(count));
  const record: RatedRecord = {
    recordId: `${accountId}:${seq}:0`,
    meter,
    periodStartMs: PERIOD_START_MS,
    periodEndMs: PERIOD_END_MS,
    segment: "planv_test",
    planId: "plan_test",
    day: spec.day ?? "2026-11-01",
    quantityDelta: quantity.toString(),
    amountDelta: quantity.mul(price).toString(),
    currency: "USD",
    eventCount: count,
    quantityTotal: quantity.toString(),
    amountTotal: quantity.mul(price).toString(),
  };
  return {
    v: 1,
    kind: "rated_usage",
    batchId: `${accountId}:${seq}`,
    accountId,
    sentMs: PERIOD_START_MS + offsetMs + count * 60_000,
    records: [record],
    events,
  };
}

export interface Delivered {
  id: string;
  body: unknown;
  attempts?: number;
}

/** What the consumer decided for one delivery batch. */
export interface QueueOutcome {
  acked: string[];
  retried: { id: string; delaySeconds: number | undefined }[];
}

/**
 * Runs the Worker's queue handler on one delivery batch built in the test (no real queue), with
 * `bindings` (default: the test env), and reports exactly which messages were acked or retried.
 */
export async function deliver(
  queue: string,
  messages: Delivered[],
  bindings: Env = env,
): Promise<QueueOutcome> {
  const batch = createMessageBatch(
    queue,
    messages.map((m) => ({
      id: m.id,
      timestamp: new Date(PERIOD_START_MS),
      attempts: m.attempts ?? 1,
      body: m.body,
    })),
  );
  const ctx = createExecutionContext();
  // getQueueResult reports which messages were retried but not their delays, so the handler
  // gets the same messages behind a thin view that also notes each retry's options.
  const delays = new Map<string, number | undefined>();
  const observed: MessageBatch<unknown> = {
    queue: batch.queue,
    metadata: batch.metadata,
    messages: batch.messages.map((message) => ({
      id: message.id,
      timestamp: message.timestamp,
      attempts: message.attempts,
      body: message.body,
      ack: () => message.ack(),
      retry: (options?: QueueRetryOptions) => {
        delays.set(message.id, options?.delaySeconds);
        message.retry(options);
      },
    })),
    ackAll: () => batch.ackAll(),
    retryAll: (options?: QueueRetryOptions) => batch.retryAll(options),
  };
  await (worker.queue as (b: MessageBatch, e: Env, c: ExecutionContext) => Promise<void>)(
    observed,
    bindings,
    ctx,
  );
  const result = await getQueueResult(batch, ctx);
  return {
    acked: [...result.explicitAcks].sort(),
    retried: result.retryMessages
      .map((r) => ({ id: r.msgId, delaySeconds: delays.get(r.msgId) }))
      .sort((a, b) => (a.id < b.id ? -1 : 1)),
  };
}

export function clickhouse(): ClickHouseClient {
  return openClickHouse(configFor(env).clickhouse);
}

async function chRows<T>(query: string, params: Record<string, unknown>): Promise<T[]> {
  const result = await clickhouse().query({ query, query_params: params, format: "JSONEachRow" });
  return result.json<T>();
}

/** What ClickHouse holds for an account, as meterline's queries see it and physically. */
export async function analyticsOf(accountId: string) {
  const [visible] = await chRows<{ events: string; value: string | null; rows: string }>(
    `SELECT toString(count()) AS events, toString(sum(value)) AS value,
            toString(uniqExact(event_id)) AS rows
     FROM usage_events FINAL WHERE account_id = {a:String}`,
    { a: accountId },
  );
  const [rated] = await chRows<{
    records: string;
    quantity: string;
    amount: string;
    events: string;
  }>(
    `SELECT toString(count()) AS records, toString(sum(quantity_delta)) AS quantity,
            toString(sum(amount_delta)) AS amount, toString(sum(event_count)) AS events
     FROM usage_rated FINAL WHERE account_id = {a:String}`,
    { a: accountId },
  );
  const [physical] = await chRows<{ events: string; records: string }>(
    `SELECT toString((SELECT count() FROM usage_events WHERE account_id = {a:String})) AS events,
            toString((SELECT count() FROM usage_rated WHERE account_id = {a:String})) AS records`,
    { a: accountId },
  );
  return {
    events: Number(visible?.events),
    valueSum: visible?.value ?? null,
    records: Number(rated?.records),
    quantity: rated?.quantity ?? "0",
    amount: rated?.amount ?? "0",
    recordEvents: Number(rated?.events),
    physicalEvents: Number(physical?.events),
    physicalRecords: Number(physical?.records),
  };
}

/** What the Postgres ledger holds for an account. */
export async function ledgerOf(accountId: string) {
  const db = openDatabase(configFor(env).database, { max: 1 });
  try {
    const batches = await db.query<{ n: string }>(
      "select count(*)::text as n from rated_batches where account_id = $1",
      [accountId],
    );
    const rollups = await db.query<{
      meter: string;
      day: string;
      quantity: string;
      amount: string;
      events: string;
    }>(
      `select meter, day::text as day, quantity::text as quantity, amount::text as amount,
              event_count::text as events
       from usage_rollups where account_id = $1 order by meter, day, segment`,
      [accountId],
    );
    return {
      batches: Number(batches.rows[0]?.n),
      rollups: rollups.rows.map((r) => ({
        meter: r.meter,
        day: r.day,
        quantity: Decimal.from(r.quantity).toString(),
        amount: Decimal.from(r.amount).toString(),
        events: Number(r.events),
      })),
    };
  } finally {
    await db.end();
  }
}

/** Runs SQL against the ledger (test set-up and inspection). */
export async function ledgerQuery<Row>(sql: string, params: unknown[] = []): Promise<Row[]> {
  const db = openDatabase(configFor(env).database, { max: 1 });
  try {
    return (await db.query<Row>(sql, params)).rows;
  } finally {
    await db.end();
  }
}

/** Stops or starts a local service through the stack control API (outage drills). */
export async function stackControl(service: "clickhouse" | "postgres", action: "stop" | "start") {
  const response = await fetch(`${inject("stackControlUrl")}/services/${service}/${action}`, {
    method: "POST",
  });
  if (!response.ok) {
    throw new Error(`${action} ${service}: ${response.status} ${await response.text()}`);
  }
  await response.arrayBuffer().catch(() => {});
}
