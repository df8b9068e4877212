import { INGEST_LIMITS, MAX_VALUE_INTEGER } from "./limits.ts";

/** Why a decimal input was refused. */
export type DecimalTextError = "VALUE_NOT_DECIMAL" | "VALUE_OUT_OF_RANGE";

const PLAIN = /^([+-]?)(\d+)(?:\.(\d+))?$/;
const EXPONENT = /^([+-]?)(\d+)(?:\.(\d+))?[eE]([+-]?\d+)$/;

function canonical(sign: string, intDigits: string, fracDigits: string): string | DecimalTextError {
  const intPart = intDigits.replace(/^0+(?=\d)/, "");
  const fracPart = fracDigits.replace(/0+$/, "");
  if (fracPart.length > INGEST_LIMITS.maxValueFractionDigits) {
    return "VALUE_OUT_OF_RANGE";
  }
  if (intPart.length > INGEST_LIMITS.maxValueIntegerDigits || BigInt(intPart) > MAX_VALUE_INTEGER) {
    return "VALUE_OUT_OF_RANGE";
  }
  const isZero = intPart === "0" && fracPart === "";
  const body = fracPart === "" ? intPart : `${intPart}.${fracPart}`;
  return sign === "-" && !isZero ? `-${body}` : body;
}

/**
 * Turns a decimal written as text (`"12"`, `"-0.5"`, `"2.5e3"`) into canonical plain notation
 * (`"12"`, `"-0.5"`, `"2500"`): no exponent, no leading or trailing zeros, no `+`. Refuses
 * anything else, and values beyond the signed 64-bit integer range or 12 fractional digits.
 */
export function canonicalDecimal(text: string): string | DecimalTextError {
  if (text.length === 0 || text.length > 64) {
    return text.length === 0 ? "VALUE_NOT_DECIMAL" : "VALUE_OUT_OF_RANGE";
  }
  const plain = PLAIN.exec(text);
  if (plain) {
    return canonical(plain[1] ?? "", plain[2] ?? "0", plain[3] ?? "");
  }
  const exp = EXPONENT.exec(text);
  if (!exp) {
    return "VALUE_NOT_DECIMAL";
  }
  const exponent = Number(exp[4]);
  if (!Number.isSafeInteger(exponent) || Math.abs(exponent) > 40) {
    return "VALUE_OUT_OF_RANGE";
  }
  const digits = (exp[2] ?? "") + (exp[3] ?? "");
  const pointAt = (exp[2] ?? "").length + exponent;
  if (pointAt <= 0) {
    return canonical(exp[1] ?? "", "0", "0".repeat(-pointAt) + digits);
  }
  if (pointAt >= digits.length) {
    return canonical(exp[1] ?? "", digits + "0".repeat(pointAt - digits.length), "");
  }
  return canonical(exp[1] ?? "", digits.slice(0, pointAt), digits.slice(pointAt));
}

/**
 * A JSON number read without precision loss: the body parser hands over the literal's source
 * text when a number could not survive a round trip through a double.
 */
export class NumberLiteral {
  readonly source: string;

  constructor(source: string) {
    this.source = source;
  }
}

/**
 * Canonical decimal text of a JSON value that should be a decimal: a string, an exactly parsed
 * number, or a NumberLiteral kept from the source text.
 */
export function decimalFromJson(value: unknown): string | DecimalTextError {
  if (typeof value === "string") {
    return canonicalDecimal(value.trim() === value ? value : "");
  }
  if (value instanceof NumberLiteral) {
    return canonicalDecimal(value.source);
  }
  if (typeof value === "number") {
    if (!Number.isFinite(value)) {
      return "VALUE_NOT_DECIMAL";
    }
    return canonicalDecimal(String(value));
  }
  return "VALUE_NOT_DECIMAL";
}
