import { AppError } from "../errors/app-error.ts";
import { divideRounded, type RoundingMode } from "./rounding.ts";

/**
 * Why a text or number is not a decimal. Stable strings: validation maps them to field errors.
 * - `EMPTY`: the empty string.
 * - `TOO_LONG`: longer than MAX_DECIMAL_TEXT_LENGTH characters.
 * - `EXPONENT_NOT_ALLOWED`: `1e-3` and friends; strings must use plain notation.
 * - `MALFORMED`: anything else that is not `-?digits(.digits)?`.
 * - `NOT_FINITE`: a JS number that is NaN or ±Infinity.
 * - `NOT_A_DECIMAL`: neither a string, a bigint, a number nor a Decimal.
 */
export type DecimalParseFailure =
  | "EMPTY"
  | "TOO_LONG"
  | "EXPONENT_NOT_ALLOWED"
  | "MALFORMED"
  | "NOT_FINITE"
  | "NOT_A_DECIMAL";

export type DecimalParseResult =
  | { ok: true; value: Decimal }
  | { ok: false; reason: DecimalParseFailure; detail: string };

/** What `Decimal.from` accepts. Numbers go through their shortest round-trip string. */
export type DecimalInput = Decimal | string | number | bigint;

/**
 * Longest decimal text `parse` reads. Far beyond any price or quantity (a 30-digit quantity with
 * 18 fractional digits is 50 characters) and short enough that hostile input cannot make us
 * build huge bigints.
 */
export const MAX_DECIMAL_TEXT_LENGTH = 256;

const PLAIN = /^(-?)(\d+)(?:\.(\d+))?$/;
const EXPONENT_FORM = /^[+-]?(?:\d+\.?\d*|\.\d+)[eE][+-]?\d+$/;
// The shape of String(n) for a finite number: an optional exponent with an explicit sign.
const NUMBER_TEXT = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/;

const POWERS_OF_TEN: bigint[] = [];

/** 10^n as a bigint; the first powers are cached because every scale alignment needs one. */
function pow10(n: number): bigint {
  if (n < 64) {
    let cached = POWERS_OF_TEN[n];
    if (cached === undefined) {
      cached = 10n ** BigInt(n);
      POWERS_OF_TEN[n] = cached;
    }
    return cached;
  }
  return 10n ** BigInt(n);
}

function assertScale(scale: number): void {
  if (!Number.isSafeInteger(scale) || scale < 0) {
    throw new RangeError(`A scale must be a non-negative integer, got ${scale}`);
  }
}

/**
 * An immutable exact decimal: `coefficient × 10^-scale`, with a bigint coefficient and a
 * non-negative integer scale. Never touches binary floating point.
 *
 * The representation is not canonical (`1.50` may be held as 150 with scale 2); values compare by
 * value, and `toString()` prints the canonical form. Arithmetic is exact except `div` and `round`,
 * which take a target scale and a RoundingMode.
 */
export class Decimal {
  readonly coefficient: bigint;
  readonly scale: number;

  private constructor(coefficient: bigint, scale: number) {
    this.coefficient = coefficient;
    this.scale = scale;
  }

  static readonly ZERO = new Decimal(0n, 0);
  static readonly ONE = new Decimal(1n, 0);

  /** `coefficient × 10^-scale`. Throws RangeError for a negative or non-integer scale. */
  static fromParts(coefficient: bigint, scale = 0): Decimal {
    assertScale(scale);
    return new Decimal(coefficient, scale);
  }

  /** The integer `value`, exactly. */
  static fromBigInt(value: bigint): Decimal {
    return new Decimal(value, 0);
  }

  /**
   * Reads plain decimal notation: an optional `-`, digits, and optionally `.` and more digits
   * (`"12"`, `"-0.000463"`, `"007.50"`). Exponent form, a leading `+` or `.`, a trailing `.`,
   * whitespace and separators are rejected: the wire format is the one `toString` writes.
   */
  static parse(text: string): DecimalParseResult {
    if (text.length === 0) {
      return { ok: false, reason: "EMPTY", detail: "Expected a decimal, got an empty string" };
    }
    if (text.length > MAX_DECIMAL_TEXT_LENGTH) {
      return {
        ok: false,
        reason: "TOO_LONG",
        detail: `A decimal may have at most ${MAX_DECIMAL_TEXT_LENGTH} characters`,
      };
    }
    const match = PLAIN.exec(text);
    if (match === null) {
      if (EXPONENT_FORM.test(text)) {
        return {
          ok: false,
          reason: "EXPONENT_NOT_ALLOWED",
          detail: `Write "${text}" in plain notation, without an exponent`,
        };
      }
      return { ok: false, reason: "MALFORMED", detail: `"${text}" is not a decimal number` };
    }
    const [, sign = "", whole = "", fraction = ""] = match;
    const magnitude = BigInt(whole + fraction);
    return { ok: true, value: new Decimal(sign === "-" ? -magnitude : magnitude, fraction.length) };
  }

  /**
   * A JS number, exactly as its shortest round-trip string reads (`0.1` → 0.1, not the binary
   * 0.1000000000000000055...). So `fromNumber(x)` is only as right as `x` already was: use it
   * for numbers that came from decimal literals, never for the result of float arithmetic.
   */
  static fromNumber(value: number): DecimalParseResult {
    if (!Number.isFinite(value)) {
      return { ok: false, reason: "NOT_FINITE", detail: `${value} is not a finite number` };
    }
    const match = NUMBER_TEXT.exec(String(value));
    if (match === null) {
      // String() of a finite number always matches; reaching here is a runtime bug.
      throw new RangeError(`Unexpected number text ${String(value)}`);
    }
    const [, sign = "", whole = "", fraction = "", exponentText = "0"] = match;
    const magnitude = BigInt(whole + fraction);
    const coefficient = sign === "-" ? -magnitude : magnitude;
    const scale = fraction.length - Number(exponentText);
    if (scale < 0) {
      return { ok: true, value: new Decimal(coefficient * pow10(-scale), 0) };
    }
    return { ok: true, value: new Decimal(coefficient, scale) };
  }

  /** Parses any DecimalInput without throwing; for untrusted values of unknown type. */
  static tryFrom(input: unknown): DecimalParseResult {
    if (input instanceof Decimal) {
      return { ok: true, value: input };
    }
    if (typeof input === "string") {
      return Decimal.parse(input);
    }
    if (typeof input === "bigint") {
      return { ok: true, value: new Decimal(input, 0) };
    }
    if (typeof input === "number") {
      return Decimal.fromNumber(input);
    }
    return { ok: false, reason: "NOT_A_DECIMAL", detail: "Expected a decimal string" };
  }

  /**
   * Converts trusted input (constants, values validated earlier). Throws AppError
   * `VALIDATION_FAILED` when the input is not a decimal; untrusted input belongs in `tryFrom`.
   */
  static from(input: DecimalInput): Decimal {
    const result = Decimal.tryFrom(input);
    if (!result.ok) {
      throw new AppError("VALIDATION_FAILED", result.detail, {
        context: { reason: result.reason },
      });
    }
    return result.value;
  }

  /** Sum of `values`; zero for none. */
  static sum(values: Iterable<Decimal>): Decimal {
    let total = Decimal.ZERO;
    for (const value of values) {
      total = total.add(value);
    }
    return total;
  }

  /** This value's coefficient expressed at `scale` (≥ this.scale): exact, no rounding. */
  private coefficientAt(scale: number): bigint {
    return scale === this.scale ? this.coefficient : this.coefficient * pow10(scale - this.scale);
  }

  /** Exact sum, at the larger of the two scales. */
  add(other: Decimal): Decimal {
    if (this.scale === other.scale) {
      return new Decimal(this.coefficient + other.coefficient, this.scale);
    }
    const scale = Math.max(this.scale, other.scale);
    return new Decimal(this.coefficientAt(scale) + other.coefficientAt(scale), scale);
  }

  /** Exact difference, at the larger of the two scales. */
  sub(other: Decimal): Decimal {
    if (this.scale === other.scale) {
      return new Decimal(this.coefficient - other.coefficient, this.scale);
    }
    const scale = Math.max(this.scale, other.scale);
    return new Decimal(this.coefficientAt(scale) - other.coefficientAt(scale), scale);
  }

  /** Exact product; its scale is the sum of the operands' scales. */
  mul(other: Decimal): Decimal {
    return new Decimal(this.coefficient * other.coefficient, this.scale + other.scale);
  }

  /**
   * `this / divisor`, rounded to `scale` fractional digits with `mode`: the only inexact
   * arithmetic operation. Throws RangeError when `divisor` is zero.
   */
  div(divisor: Decimal, scale: number, mode: RoundingMode): Decimal {
    assertScale(scale);
    // this/divisor × 10^scale = (c1 × 10^(s2 + scale)) / (c2 × 10^s1)
    const numerator = this.coefficient * pow10(divisor.scale + scale);
    const denominator = divisor.coefficient * pow10(this.scale);
    return new Decimal(divideRounded(numerator, denominator, mode), scale);
  }

  /** `this × 10^places`, exactly (negative `places` divide). */
  movePoint(places: number): Decimal {
    if (!Number.isSafeInteger(places)) {
      throw new RangeError(`places must be an integer, got ${places}`);
    }
    if (places <= this.scale) {
      return new Decimal(this.coefficient, this.scale - places);
    }
    return new Decimal(this.coefficient * pow10(places - this.scale), 0);
  }

  /** `-this`, exact; zero stays zero (bigints have no negative zero). */
  neg(): Decimal {
    return new Decimal(-this.coefficient, this.scale);
  }

  /** `|this|`, exact. */
  abs(): Decimal {
    return this.coefficient < 0n ? this.neg() : this;
  }

  /** -1, 0 or 1 as this value is below, equal to or above `other`. */
  cmp(other: Decimal): -1 | 0 | 1 {
    let left = this.coefficient;
    let right = other.coefficient;
    if (this.scale > other.scale) {
      right = other.coefficientAt(this.scale);
    } else if (this.scale < other.scale) {
      left = this.coefficientAt(other.scale);
    }
    return left < right ? -1 : left > right ? 1 : 0;
  }

  // Comparisons are by value: 1.5 and 1.50 are equal whatever their scales.

  eq(other: Decimal): boolean {
    return this.cmp(other) === 0;
  }

  lt(other: Decimal): boolean {
    return this.cmp(other) < 0;
  }

  lte(other: Decimal): boolean {
    return this.cmp(other) <= 0;
  }

  gt(other: Decimal): boolean {
    return this.cmp(other) > 0;
  }

  gte(other: Decimal): boolean {
    return this.cmp(other) >= 0;
  }

  /** The smaller value; `this` on a tie. */
  min(other: Decimal): Decimal {
    return this.cmp(other) <= 0 ? this : other;
  }

  /** The larger value; `this` on a tie. */
  max(other: Decimal): Decimal {
    return this.cmp(other) >= 0 ? this : other;
  }

  isZero(): boolean {
    return this.coefficient === 0n;
  }

  isNegative(): boolean {
    return this.coefficient < 0n;
  }

  isPositive(): boolean {
    return this.coefficient > 0n;
  }

  /** -1, 0 or 1. */
  sign(): -1 | 0 | 1 {
    return this.coefficient < 0n ? -1 : this.coefficient > 0n ? 1 : 0;
  }

  isInteger(): boolean {
    return this.scale === 0 || this.coefficient % pow10(this.scale) === 0n;
  }

  /**
   * Rounds to at most `scale` fractional digits with `mode`. A value that already fits is
   * returned unchanged.
   */
  round(scale: number, mode: RoundingMode): Decimal {
    assertScale(scale);
    if (scale >= this.scale) {
      return this;
    }
    return new Decimal(divideRounded(this.coefficient, pow10(this.scale - scale), mode), scale);
  }

  /** The greatest integer ≤ this value. */
  floor(): Decimal {
    return this.round(0, "FLOOR");
  }

  /** The least integer ≥ this value. */
  ceil(): Decimal {
    return this.round(0, "CEILING");
  }

  /** The value as a bigint. Throws RangeError unless it is an integer (round first). */
  toBigInt(): bigint {
    if (!this.isInteger()) {
      throw new RangeError(`${this.toString()} is not an integer`);
    }
    return this.scale === 0 ? this.coefficient : this.coefficient / pow10(this.scale);
  }

  /** The same value with trailing fractional zeros removed (the canonical representation). */
  normalize(): Decimal {
    let coefficient = this.coefficient;
    let scale = this.scale;
    while (scale > 0 && coefficient % 10n === 0n) {
      coefficient /= 10n;
      scale -= 1;
    }
    return scale === this.scale ? this : new Decimal(coefficient, scale);
  }

  /** Digits of the canonical form after the point: 0 for integers, 6 for `-0.000463`. */
  fractionalDigits(): number {
    return this.normalize().scale;
  }

  /** Digits of the integer part of |value|: 0 for `0.5`, 2 for `-12.3`, 0 for `0`. */
  integerDigits(): number {
    const whole = this.abs().coefficient / pow10(this.scale);
    return whole === 0n ? 0 : whole.toString().length;
  }

  /**
   * Canonical plain notation: no exponent, no trailing fractional zeros, no `-0`, `0` for zero.
   * `Decimal.parse(x.toString())` gives back an equal value.
   */
  toString(): string {
    const canonical = this.normalize();
    return formatPlain(canonical.coefficient, canonical.scale);
  }

  /**
   * Exactly `scale` fractional digits, for display: rounds with `mode` when the value has more,
   * pads with zeros when it has fewer. Not for arithmetic or storage.
   */
  toFixed(scale: number, mode: RoundingMode = "HALF_UP"): string {
    const rounded = this.round(scale, mode);
    return formatPlain(rounded.coefficientAt(scale), scale);
  }

  /** JSON carries decimals as canonical strings, never as numbers. */
  toJSON(): string {
    return this.toString();
  }
}

function formatPlain(coefficient: bigint, scale: number): string {
  const negative = coefficient < 0n;
  const digits = (negative ? -coefficient : coefficient).toString();
  const sign = negative ? "-" : "";
  if (scale === 0) {
    return sign + digits;
  }
  const padded = digits.padStart(scale + 1, "0");
  const point = padded.length - scale;
  return `${sign}${padded.slice(0, point)}.${padded.slice(point)}`;
}

/** Bounds for validating decimal input (see `checkDecimalLimits`). */
export interface DecimalLimits {
  maxIntegerDigits: number;
  maxFractionalDigits: number;
}

/**
 * Which bound `value` breaks, if any: too many digits before the point, or too many after it in
 * canonical form (so `1.50` has 1 fractional digit). Returns null when both fit.
 */
export function checkDecimalLimits(
  value: Decimal,
  limits: DecimalLimits,
): "TOO_MANY_INTEGER_DIGITS" | "TOO_MANY_FRACTIONAL_DIGITS" | null {
  if (value.integerDigits() > limits.maxIntegerDigits) {
    return "TOO_MANY_INTEGER_DIGITS";
  }
  if (value.fractionalDigits() > limits.maxFractionalDigits) {
    return "TOO_MANY_FRACTIONAL_DIGITS";
  }
  return null;
}

/** Shorthand for `Decimal.from`, for constants and already-validated values. */
export function dec(input: DecimalInput): Decimal {
  return Decimal.from(input);
}
