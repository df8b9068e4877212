import type { FieldError } from "../errors/app-error.ts";
import { checkDecimalLimits, Decimal, type DecimalLimits } from "../money/decimal.ts";
import { PRICING_FIELD_CODES, type PricingFieldCode } from "./codes.ts";

/** Outcome of validating untrusted input: the parsed value, or every field error at once. */
export type ValidationResult<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

/** Prices, fees, rates and charges: up to 12 fractional digits, up to 15 integer digits. */
export const PRICE_LIMITS: DecimalLimits = { maxIntegerDigits: 15, maxFractionalDigits: 12 };

/** Quantities (tier bounds, package sizes, allowances): 18 fractional and 30 integer digits. */
export const QUANTITY_LIMITS: DecimalLimits = { maxIntegerDigits: 30, maxFractionalDigits: 18 };

/** Appends JSON-pointer segments to `base`, escaping `~` and `/` as RFC 6901 requires. */
export function pointer(base: string, ...segments: (string | number)[]): string {
  let out = base;
  for (const segment of segments) {
    out += `/${String(segment).replaceAll("~", "~0").replaceAll("/", "~1")}`;
  }
  return out;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
const CONTROL_EXCEPT_LINE_BREAKS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

/**
 * Why `text` cannot be a name, unit or description, or null when it can. Refused: a lone UTF-16
 * surrogate (it would be stored as U+FFFD, silently changing the text), NUL (Postgres text cannot
 * hold it) and the other C0/C1 control characters; `multiline` text may hold tab, LF and CR.
 */
export function textProblem(text: string, options: { multiline?: boolean } = {}): string | null {
  if (!text.isWellFormed()) {
    return "The text is not well-formed UTF-16: it holds a lone surrogate";
  }
  const control = options.multiline ? CONTROL_EXCEPT_LINE_BREAKS : CONTROL_CHARACTERS;
  const found = control.exec(text)?.[0];
  if (found === undefined) {
    return null;
  }
  const code = found.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0");
  const lineBreak = found === "\t" || found === "\n" || found === "\r";
  return `The text holds the control character U+${code}${lineBreak ? "; it must be one line" : ""}`;
}

/** True for a plain JSON object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Collects field errors with the pricing codes; one per offending field and reason. */
export class FieldErrors {
  readonly list: FieldError[] = [];

  /** Records one error; `detail` defaults to the code's description. */
  add(field: string, code: PricingFieldCode, detail: string = PRICING_FIELD_CODES[code]): void {
    this.list.push({ field, code, detail });
  }

  /** How many errors were recorded. */
  get size(): number {
    return this.list.length;
  }

  /** Reports every key of `object` outside `allowed` as UNKNOWN_FIELD. */
  rejectUnknown(object: Record<string, unknown>, allowed: readonly string[], path: string): void {
    for (const key of Object.keys(object)) {
      if (!allowed.includes(key)) {
        this.add(pointer(path, key), "UNKNOWN_FIELD", `Unknown field "${key}"`);
      }
    }
  }
}

export interface DecimalRule {
  kind: "price" | "quantity";
  /** `nonNegative`: ≥ 0; `positive`: > 0. */
  sign: "nonNegative" | "positive";
  required: boolean;
}

/**
 * Reads `object[key]` as a decimal string under `rule`, reporting what is wrong at `path/key`.
 * Returns undefined when the field is absent (JSON null counts as absent) or invalid; either
 * way dependent checks should be skipped, and an invalid field has been reported.
 */
export function readDecimal(
  object: Record<string, unknown>,
  key: string,
  path: string,
  errors: FieldErrors,
  rule: DecimalRule,
): Decimal | undefined {
  const field = pointer(path, key);
  const raw = object[key];
  if (raw === undefined || raw === null) {
    if (rule.required) {
      errors.add(field, "REQUIRED", `"${key}" is required`);
    }
    return undefined;
  }
  if (typeof raw !== "string") {
    errors.add(field, "INVALID_TYPE", `"${key}" must be a decimal string such as "0.25"`);
    return undefined;
  }
  const parsed = Decimal.parse(raw);
  if (!parsed.ok) {
    errors.add(field, "INVALID_DECIMAL", parsed.detail);
    return undefined;
  }
  const value = parsed.value;
  const limits = rule.kind === "price" ? PRICE_LIMITS : QUANTITY_LIMITS;
  const broken = checkDecimalLimits(value, limits);
  if (broken === "TOO_MANY_INTEGER_DIGITS") {
    errors.add(field, "VALUE_TOO_LARGE", `At most ${limits.maxIntegerDigits} integer digits`);
    return undefined;
  }
  if (broken === "TOO_MANY_FRACTIONAL_DIGITS") {
    const code = rule.kind === "price" ? "PRICE_TOO_PRECISE" : "QUANTITY_TOO_PRECISE";
    errors.add(field, code, `At most ${limits.maxFractionalDigits} fractional digits`);
    return undefined;
  }
  if (rule.sign === "positive" && !value.isPositive()) {
    errors.add(field, "NOT_POSITIVE", `"${key}" must be more than zero`);
    return undefined;
  }
  if (value.isNegative()) {
    errors.add(field, "NEGATIVE_NOT_ALLOWED", `"${key}" must not be negative`);
    return undefined;
  }
  return value;
}
