import { decimalFromJson, NumberLiteral } from "./decimal-text.ts";
import { INGEST_LIMITS } from "./limits.ts";
import type { EventRejection, EventRejectionCode } from "./rejections.ts";
import { EVENT_REJECTION_CODES } from "./rejections.ts";
import { parseRfc3339 } from "./time.ts";

/**
 * A usage event that passed the checks that need no catalogue: shape, id, account, decimal
 * value, timestamp and properties. The account meter applies the checks that need the meter's
 * definition (unknown meter, value required, negative values, windows, periods).
 */
export interface UsageEvent {
  id: string;
  accountId: string;
  meter: string;
  /** Canonical decimal text, or null when the event carried no value. */
  value: string | null;
  /** Event time in epoch milliseconds (sub-millisecond digits are truncated). */
  timeMs: number;
  /** True when the event carried no time and was stamped on arrival (not part of its identity). */
  timeFromArrival: boolean;
  /** Flat properties; numbers and booleans are kept as their canonical text. */
  properties: Record<string, string>;
}

/** A raw event as decoded from the body, with the index it had in the request. */
export interface RawEvent {
  index: number;
  body: unknown;
}

/** Account ids and meter keys: letters, digits, `_`, `-`, `.`, `:`; 1-64 characters. */
export const KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
const PROPERTY_KEY_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,63}$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;
const KNOWN_FIELDS = new Set(["id", "account", "meter", "value", "time", "properties"]);

export type ValidationOutcome =
  | { ok: true; event: UsageEvent }
  | { ok: false; rejection: EventRejection };

/** Who is sending: an account key pins the account; the admin key requires `account`. */
export type Sender = { kind: "account"; accountId: string } | { kind: "admin" };

function reject(
  index: number,
  id: string | null,
  code: EventRejectionCode,
  detail?: string,
): ValidationOutcome {
  return {
    ok: false,
    rejection: { index, id, code, detail: detail ?? EVENT_REJECTION_CODES[code] },
  };
}

function isWellFormedText(text: string): boolean {
  return text.isWellFormed() && !CONTROL_CHARACTERS.test(text);
}

function propertyText(value: unknown): string | null {
  if (typeof value === "string") {
    return value;
  }
  if (typeof value === "boolean") {
    return value ? "true" : "false";
  }
  if (typeof value === "number" || value instanceof NumberLiteral) {
    const text = decimalFromJson(value);
    if (text === "VALUE_NOT_DECIMAL") {
      return null;
    }
    if (text !== "VALUE_OUT_OF_RANGE") {
      return text;
    }
    // A number too big to be a metered value can still be a dimension (an external id, say):
    // keep exactly what the producer wrote.
    return value instanceof NumberLiteral ? value.source : String(value);
  }
  return null;
}

function validateProperties(
  raw: unknown,
):
  | { ok: true; properties: Record<string, string> }
  | { ok: false; code: EventRejectionCode; detail: string } {
  if (raw === undefined || raw === null) {
    return { ok: true, properties: {} };
  }
  if (typeof raw !== "object" || Array.isArray(raw) || raw instanceof NumberLiteral) {
    return { ok: false, code: "PROPERTIES_INVALID", detail: "properties must be a JSON object" };
  }
  const entries = Object.entries(raw as Record<string, unknown>);
  if (entries.length > INGEST_LIMITS.maxProperties) {
    return {
      ok: false,
      code: "PROPERTIES_TOO_LARGE",
      detail: `at most ${INGEST_LIMITS.maxProperties} properties per event, got ${entries.length}`,
    };
  }
  const properties: Record<string, string> = {};
  let bytes = 2;
  for (const [key, value] of entries) {
    if (key === "__proto__") {
      // Assigning it would set the prototype of the properties object instead of adding a key:
      // the property would vanish from the event and from its dedup fingerprint.
      return {
        ok: false,
        code: "PROPERTIES_INVALID",
        detail: 'property key "__proto__" is reserved; choose another name',
      };
    }
    if (!PROPERTY_KEY_PATTERN.test(key)) {
      return {
        ok: false,
        code: "PROPERTIES_INVALID",
        detail: `property key ${JSON.stringify(key.slice(0, 80))} must match ${PROPERTY_KEY_PATTERN.source}`,
      };
    }
    const text = propertyText(value);
    if (text === null) {
      return {
        ok: false,
        code: "PROPERTIES_INVALID",
        detail: `property ${key} must be a string, a finite number or a boolean`,
      };
    }
    if (text.length > INGEST_LIMITS.maxPropertyValueLength) {
      return {
        ok: false,
        code: "PROPERTIES_TOO_LARGE",
        detail: `property ${key} is longer than ${INGEST_LIMITS.maxPropertyValueLength} characters`,
      };
    }
    if (!text.isWellFormed()) {
      return {
        ok: false,
        code: "PROPERTIES_INVALID",
        detail: `property ${key} is not well-formed text`,
      };
    }
    bytes += key.length + text.length + 6;
    properties[key] = text;
  }
  if (bytes > INGEST_LIMITS.maxPropertiesBytes) {
    return {
      ok: false,
      code: "PROPERTIES_TOO_LARGE",
      detail: `properties exceed ${INGEST_LIMITS.maxPropertiesBytes} bytes`,
    };
  }
  return { ok: true, properties };
}

/**
 * Validates one decoded event for `sender`. `nowMs` stamps events that carry no time
 * (arrival time). Never throws: every problem becomes a rejection with a stable code.
 */
export function validateEvent(raw: RawEvent, sender: Sender, nowMs: number): ValidationOutcome {
  const { index, body } = raw;
  if (
    typeof body !== "object" ||
    body === null ||
    Array.isArray(body) ||
    body instanceof NumberLiteral
  ) {
    return reject(index, null, "EVENT_NOT_OBJECT");
  }
  const record = body as Record<string, unknown>;
  const rawId = record.id;
  const id =
    typeof rawId === "string" &&
    rawId.length > 0 &&
    rawId.length <= INGEST_LIMITS.maxIdLength &&
    isWellFormedText(rawId)
      ? rawId
      : null;
  if (id === null) {
    return reject(
      index,
      null,
      rawId === undefined || rawId === null || rawId === "" ? "ID_REQUIRED" : "ID_INVALID",
    );
  }
  for (const key of Object.keys(record)) {
    if (!KNOWN_FIELDS.has(key)) {
      return reject(
        index,
        id,
        "UNKNOWN_FIELD",
        `unknown field ${JSON.stringify(key.slice(0, 80))}`,
      );
    }
  }

  let accountId: string;
  const rawAccount = record.account;
  if (rawAccount === undefined || rawAccount === null) {
    if (sender.kind === "admin") {
      return reject(index, id, "ACCOUNT_REQUIRED");
    }
    accountId = sender.accountId;
  } else if (typeof rawAccount !== "string" || !KEY_PATTERN.test(rawAccount)) {
    return reject(index, id, "ACCOUNT_INVALID");
  } else if (sender.kind === "account" && rawAccount !== sender.accountId) {
    return reject(index, id, "ACCOUNT_FORBIDDEN");
  } else {
    accountId = rawAccount;
  }

  const meter = record.meter;
  if (meter === undefined || meter === null || meter === "") {
    return reject(index, id, "METER_REQUIRED");
  }
  if (typeof meter !== "string" || !KEY_PATTERN.test(meter)) {
    return reject(
      index,
      id,
      "UNKNOWN_METER",
      "meter keys are 1-64 letters, digits, `_`, `-`, `.` or `:`",
    );
  }

  let value: string | null = null;
  if (record.value !== undefined && record.value !== null) {
    const text = decimalFromJson(record.value);
    if (text === "VALUE_NOT_DECIMAL" || text === "VALUE_OUT_OF_RANGE") {
      return reject(index, id, text);
    }
    value = text;
  }

  let timeMs = nowMs;
  const timeFromArrival = record.time === undefined || record.time === null;
  if (!timeFromArrival) {
    const parsed = typeof record.time === "string" ? parseRfc3339(record.time) : null;
    if (parsed === null) {
      return reject(index, id, "TIME_INVALID");
    }
    timeMs = parsed;
  }
  if (timeMs > nowMs + INGEST_LIMITS.maxFutureSkewMs) {
    return reject(index, id, "TIME_IN_FUTURE");
  }

  const properties = validateProperties(record.properties);
  if (!properties.ok) {
    return reject(index, id, properties.code, properties.detail);
  }
  return {
    ok: true,
    event: {
      id,
      accountId,
      meter,
      value,
      timeMs,
      timeFromArrival,
      properties: properties.properties,
    },
  };
}
