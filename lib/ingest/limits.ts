/**
 * Published ingestion limits. They are part of the API contract (documented in the OpenAPI
 * document and docs/ingestion.md); raising one is safe, lowering one is a breaking change.
 */
export const INGEST_LIMITS = {
  /** Events in one request, whatever the encoding. */
  maxEventsPerRequest: 10_000,
  /** Body size after decompression. */
  maxBodyBytes: 8 * 1024 * 1024,
  /** Body size on the wire (compressed or not). */
  maxWireBytes: 8 * 1024 * 1024,
  /** Distinct accounts in one admin-key request (each becomes one meter call). */
  maxAccountsPerRequest: 500,
  /** Event id length in UTF-16 code units. */
  maxIdLength: 128,
  /** Account id and meter key length. */
  maxKeyLength: 64,
  /** Properties per event, key length, string value length, serialized size. */
  maxProperties: 32,
  maxPropertyKeyLength: 64,
  maxPropertyValueLength: 256,
  maxPropertiesBytes: 4096,
  /** Decimal values: integer digits (fits a signed 64-bit integer) and fractional digits. */
  maxValueIntegerDigits: 19,
  maxValueFractionDigits: 12,
  /**
   * Arrays and objects nested inside one another; an event needs 3 (batch, event, properties).
   * Enforced before the exact-number parse (lib/ingest/json-exact.ts), which recurses per level:
   * a body or NDJSON line holding a 16+-digit number or an exponent that nests deeper is refused.
   */
  maxJsonDepth: 64,
  /** Events may not be stamped further than this in the future (clock skew allowance). */
  maxFutureSkewMs: 5 * 60 * 1000,
} as const;

/** The largest magnitude a value may have: 2^63 - 1, the signed 64-bit range. */
export const MAX_VALUE_INTEGER = 9_223_372_036_854_775_807n;
