/**
 * Stable codes for one event refused inside an accepted request (HTTP 202 body, `rejected[]`).
 * Part of the public API: never rename, only add.
 */
export const EVENT_REJECTION_CODES = {
  EVENT_NOT_OBJECT: "The event must be a JSON object.",
  MALFORMED_JSON: "This line of the NDJSON body is not valid JSON.",
  CLOUDEVENT_INVALID:
    "The CloudEvent lacks specversion 1.0, id, source or type, or its data is not an object.",
  UNKNOWN_FIELD: "The event has a field meterline does not know.",
  ID_REQUIRED: "The event needs an `id`: a unique string that makes retries safe.",
  ID_INVALID:
    "The id must be 1-128 UTF-16 code units (an emoji counts 2) of well-formed text " +
    "without control characters.",
  ACCOUNT_REQUIRED: "Events sent with the admin key must name their `account`.",
  ACCOUNT_INVALID: "The account id is not a valid account id.",
  ACCOUNT_FORBIDDEN: "This API key may only send events for its own account.",
  UNKNOWN_ACCOUNT: "No such account.",
  METER_REQUIRED: "The event needs a `meter`: the key of a defined meter.",
  UNKNOWN_METER: "No meter with this key is defined.",
  VALUE_REQUIRED: "This meter's aggregation needs a `value`.",
  VALUE_NOT_DECIMAL: "The value must be a decimal number, as a JSON number or string.",
  VALUE_OUT_OF_RANGE: "The value exceeds 64-bit integer range or 12 fractional digits.",
  VALUE_NEGATIVE: "This meter does not allow negative values.",
  TIME_INVALID: "The time must be an RFC 3339 timestamp with a zone, e.g. 2026-12-04T10:00:00Z.",
  TIME_TOO_OLD: "The event is older than the late-arrival window.",
  TIME_IN_FUTURE: "The event is stamped more than 5 minutes in the future.",
  PERIOD_CLOSED: "The billing period this event falls in has already been invoiced.",
  PROPERTIES_INVALID: "Properties must be a flat object of strings, finite numbers or booleans.",
  PROPERTIES_TOO_LARGE: "Too many properties, or a key or value is too long.",
  SERIES_REQUIRED: "This time-weighted meter needs its series property on every sample.",
  SAMPLE_OUT_OF_ORDER: "This sample is older than the series' latest sample.",
  ID_CONFLICT: "Another event with this id was already accepted with a different payload.",
  AMOUNT_OUT_OF_RANGE:
    "These events would rate the account's billing period beyond the largest billable amount.",
} as const;

export type EventRejectionCode = keyof typeof EVENT_REJECTION_CODES;

/** One refused event, as reported back to the producer. */
export interface EventRejection {
  index: number;
  id: string | null;
  code: EventRejectionCode;
  detail: string;
}
