import type { RatedRecord, RatedUsageMessage, RawEventRecord } from "./rated-usage-message.ts";
import { RATED_USAGE_MESSAGE_VERSION } from "./rated-usage-message.ts";

/** The outcome of reading one queue body: the message, or why it cannot be applied. */
export type ParsedMessage =
  | { ok: true; message: RatedUsageMessage }
  | { ok: false; reason: string; batchId: string | null; accountId: string | null };

/**
 * Decimal text both sinks hold exactly: ClickHouse columns are Decimal(76, 30), so at most 46
 * integer and 30 fractional digits. ClickHouse would silently truncate extra fractional digits,
 * so a longer value is refused here rather than stored wrong.
 */
const DECIMAL = /^-?\d{1,46}(?:\.\d{1,30})?$/;
const DAY = /^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])$/;
const CURRENCY = /^[A-Z]{3}$/;
/** Instants ClickHouse's DateTime64 holds and meterline can produce: 1970 up to 2200. */
const MAX_TIME_MS = Date.UTC(2200, 0, 1);

class Invalid extends Error {}

/**
 * `YYYY-MM-DD` naming a real date (no February 30th), as Postgres `date` requires, in the years
 * instants may have (ClickHouse's Date32 ends in 2299).
 */
function isCalendarDate(text: string): boolean {
  if (!DAY.test(text)) {
    return false;
  }
  const [year, month, day] = text.split("-").map(Number) as [number, number, number];
  if (year < 1970 || year >= 2200) {
    return false;
  }
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

function fail(path: string, expected: string): never {
  throw new Invalid(`${path}: expected ${expected}`);
}

/** Control characters: the producer never sends them in names, and Postgres text refuses NUL. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point.
const CONTROL = /[\u0000-\u001f\u007f]/;

function text(value: unknown, path: string): string {
  if (
    typeof value !== "string" ||
    value.length === 0 ||
    value.length > 512 ||
    CONTROL.test(value)
  ) {
    fail(path, "a non-empty string of at most 512 characters without control characters");
  }
  return value;
}

function decimal(value: unknown, path: string): string {
  if (typeof value !== "string" || !DECIMAL.test(value)) {
    fail(path, "decimal text with at most 46 integer and 30 fractional digits");
  }
  return value;
}

function instant(value: unknown, path: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < 0 || (value as number) >= MAX_TIME_MS) {
    fail(path, "epoch milliseconds between 1970 and 2200");
  }
  return value as number;
}

function object(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    fail(path, "an object");
  }
  return value as Record<string, unknown>;
}

function array(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value)) {
    fail(path, "an array");
  }
  return value;
}

function record(value: unknown, path: string): RatedRecord {
  const r = object(value, path);
  const periodStartMs = instant(r.periodStartMs, `${path}.periodStartMs`);
  const periodEndMs = instant(r.periodEndMs, `${path}.periodEndMs`);
  if (periodEndMs <= periodStartMs) {
    fail(`${path}.periodEndMs`, "an instant after periodStartMs");
  }
  if (r.planId !== null && typeof r.planId !== "string") {
    fail(`${path}.planId`, "a string or null");
  }
  if (typeof r.day !== "string" || !isCalendarDate(r.day)) {
    fail(`${path}.day`, "a calendar date YYYY-MM-DD");
  }
  if (typeof r.currency !== "string" || !CURRENCY.test(r.currency)) {
    fail(`${path}.currency`, "an ISO 4217 code");
  }
  if (!Number.isSafeInteger(r.eventCount) || (r.eventCount as number) < 0) {
    fail(`${path}.eventCount`, "a non-negative integer");
  }
  return {
    recordId: text(r.recordId, `${path}.recordId`),
    meter: text(r.meter, `${path}.meter`),
    periodStartMs,
    periodEndMs,
    segment: text(r.segment, `${path}.segment`),
    planId: r.planId as string | null,
    day: r.day,
    quantityDelta: decimal(r.quantityDelta, `${path}.quantityDelta`),
    amountDelta: decimal(r.amountDelta, `${path}.amountDelta`),
    currency: r.currency,
    eventCount: r.eventCount as number,
    quantityTotal: decimal(r.quantityTotal, `${path}.quantityTotal`),
    amountTotal: decimal(r.amountTotal, `${path}.amountTotal`),
  };
}

function rawEvent(value: unknown, path: string): RawEventRecord {
  const e = object(value, path);
  const properties = object(e.properties, `${path}.properties`);
  for (const [key, property] of Object.entries(properties)) {
    if (typeof property !== "string") {
      fail(`${path}.properties.${key}`, "a string");
    }
  }
  return {
    id: text(e.id, `${path}.id`),
    meter: text(e.meter, `${path}.meter`),
    value: e.value === null ? null : decimal(e.value, `${path}.value`),
    timeMs: instant(e.timeMs, `${path}.timeMs`),
    receivedMs: instant(e.receivedMs, `${path}.receivedMs`),
    periodStartMs: instant(e.periodStartMs, `${path}.periodStartMs`),
    properties: properties as Record<string, string>,
  };
}

/**
 * Reads a rated-usage queue body (an object, or its JSON text) into a message both sinks can
 * store exactly, or says why not
 * (the first problem found, with its path, e.g. `records[3].amountDelta: expected decimal…`).
 * Refuses unknown versions and kinds rather than guessing. The batch and account ids are
 * returned with a refusal when they could be read, so the dead letter can name them. Pure.
 */
export function parseRatedUsageMessage(body: unknown): ParsedMessage {
  let batchId: string | null = null;
  let accountId: string | null = null;
  try {
    // Meters send their outbox rows as JSON text (content type "text"): parsed once, here.
    let value = body;
    if (typeof body === "string") {
      try {
        value = JSON.parse(body);
      } catch {
        throw new Invalid("body: text that is not JSON");
      }
    }
    const m = object(value, "body");
    batchId = typeof m.batchId === "string" ? m.batchId : null;
    accountId = typeof m.accountId === "string" ? m.accountId : null;
    if (m.v !== RATED_USAGE_MESSAGE_VERSION) {
      throw new Invalid(
        `v: unsupported message version ${JSON.stringify(m.v) ?? "undefined"} ` +
          `(this consumer reads version ${RATED_USAGE_MESSAGE_VERSION})`,
      );
    }
    if (m.kind !== "rated_usage") {
      fail("kind", '"rated_usage"');
    }
    const account = text(m.accountId, "accountId");
    const batch = text(m.batchId, "batchId");
    if (!batch.startsWith(`${account}:`)) {
      fail("batchId", "`<accountId>:<first outbox seq>`");
    }
    const message: RatedUsageMessage = {
      v: RATED_USAGE_MESSAGE_VERSION,
      kind: "rated_usage",
      batchId: batch,
      accountId: account,
      sentMs: instant(m.sentMs, "sentMs"),
      records: array(m.records, "records").map((r, i) => record(r, `records[${i}]`)),
      events: array(m.events, "events").map((e, i) => rawEvent(e, `events[${i}]`)),
    };
    return { ok: true, message };
  } catch (error) {
    if (error instanceof Invalid) {
      return { ok: false, reason: error.message, batchId, accountId };
    }
    throw error;
  }
}
