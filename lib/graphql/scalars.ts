import { GraphQLScalarType, Kind, type ValueNode } from "graphql";
import { AppError } from "../errors/index.ts";
import { parseRfc3339 } from "../ingest/time.ts";
import { Decimal } from "../money/decimal.ts";

// The schema's custom scalars. Exact numbers travel as strings (money is never a binary float);
// instants as ISO 8601 text in UTC. Arguments are checked on the way in and fail with
// BAD_USER_INPUT.

function badInput(message: string): AppError {
  return new AppError("BAD_USER_INPUT", message, { detail: message });
}

function literalText(node: ValueNode): string {
  if (node.kind === Kind.STRING || node.kind === Kind.INT || node.kind === Kind.FLOAT) {
    return node.value;
  }
  throw badInput("expected a string");
}

/** An instant: serialised as ISO 8601 UTC text; read (arguments) as epoch milliseconds. */
export const DateTimeScalar = new GraphQLScalarType<number, string>({
  name: "DateTime",
  description: "An instant as ISO 8601 text in UTC, e.g. 2026-12-04T10:00:00.000Z.",
  serialize(value) {
    if (value instanceof Date) {
      return value.toISOString();
    }
    if (typeof value === "number") {
      return new Date(value).toISOString();
    }
    if (typeof value === "string") {
      return value;
    }
    throw new TypeError(`DateTime cannot represent ${typeof value}`);
  },
  parseValue(value) {
    const ms = typeof value === "string" ? parseRfc3339(value) : null;
    if (ms === null) {
      throw badInput("a DateTime is RFC 3339 text with a zone, e.g. 2026-12-04T10:00:00Z");
    }
    return ms;
  },
  parseLiteral(node) {
    const ms = node.kind === Kind.STRING ? parseRfc3339(node.value) : null;
    if (ms === null) {
      throw badInput("a DateTime is RFC 3339 text with a zone, e.g. 2026-12-04T10:00:00Z");
    }
    return ms;
  },
});

function exactDecimal(text: string): string {
  const parsed = Decimal.parse(text);
  if (!parsed.ok) {
    throw badInput(`${JSON.stringify(text)} is not a decimal number`);
  }
  return parsed.value.toString();
}

/** An exact decimal number as text, e.g. "0.002"; never a binary float. */
export const DecimalScalar = new GraphQLScalarType<string, string>({
  name: "Decimal",
  description: 'An exact decimal number as text, e.g. "1234.000000000001".',
  serialize(value) {
    if (typeof value === "string" || value instanceof Decimal) {
      return value.toString();
    }
    throw new TypeError("Decimal values are produced as text, never as floats");
  },
  parseValue(value) {
    return exactDecimal(String(value));
  },
  parseLiteral(node) {
    return exactDecimal(literalText(node));
  },
});

function minorUnits(text: string): string {
  if (!/^-?\d{1,30}$/.test(text)) {
    throw badInput(`${JSON.stringify(text)} is not a whole number of minor units`);
  }
  return text;
}

/** A whole number of a currency's minor unit (cents) as text: exact beyond 2^53. */
export const MinorUnitsScalar = new GraphQLScalarType<string, string>({
  name: "MinorUnits",
  description: 'Integer minor units of a currency (cents for USD) as text, e.g. "1050".',
  serialize(value) {
    if (typeof value === "bigint") {
      return value.toString();
    }
    if (typeof value === "string" && /^-?\d+$/.test(value)) {
      return value;
    }
    throw new TypeError("MinorUnits are produced as integer text");
  },
  parseValue: (value) => minorUnits(String(value)),
  parseLiteral: (node) => minorUnits(literalText(node)),
});

/**
 * A whole number beyond GraphQL's 32-bit Int: event counts and millisecond lags reach 2^31 in
 * real use (two billion events in a period; a batch replayed a month late). Sent as a JSON
 * number, exact up to 2^53 - 1; output only.
 */
export const LongScalar = new GraphQLScalarType<number, number>({
  name: "Long",
  description: "A whole number up to 2^53 - 1 in magnitude, as a JSON number.",
  serialize(value) {
    const n =
      typeof value === "bigint" ? Number(value) : typeof value === "string" ? Number(value) : value;
    if (typeof n !== "number" || !Number.isSafeInteger(n)) {
      throw new TypeError(`Long cannot represent ${String(value)}`);
    }
    return n;
  },
  parseValue() {
    throw badInput("Long arguments are not accepted");
  },
  parseLiteral() {
    throw badInput("Long arguments are not accepted");
  },
});

/** Structured data the schema does not type further (plan prices, audit snapshots). */
export const JSONScalar = new GraphQLScalarType<unknown, unknown>({
  name: "JSON",
  description: "Any JSON value, as stored (plan prices, audit before/after, evidence).",
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral() {
    throw badInput("JSON arguments are not accepted");
  },
});

/**
 * Maps GraphQL enum names (SCREAMING_SNAKE) to the lower-case values lib/ and the database use,
 * e.g. `charge_automatically` ↔ `CHARGE_AUTOMATICALLY`.
 */
export function enumValues(values: readonly string[]): Record<string, string> {
  return Object.fromEntries(values.map((value) => [value.toUpperCase(), value]));
}
