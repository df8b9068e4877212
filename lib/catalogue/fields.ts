import type { FieldError } from "../errors/index.ts";
import { AppError } from "../errors/index.ts";
import { parseRfc3339 } from "../ingest/time.ts";
import { isRecord, pointer, textProblem } from "../pricing/fields.ts";
import { CATALOGUE_FIELD_CODES, type CatalogueFieldCode, PERIOD_CODE_MAP } from "./codes.ts";

export { isRecord, pointer };

/** Meter and plan keys: the shape lib/pricing accepts for priced meter keys. */
export const KEY_SHAPE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
/** Caller-chosen account ids (generated ones are `acct_…`, which also fit). */
export const ACCOUNT_ID_SHAPE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
/**
 * Event property names, exactly as ingestion accepts property keys (lib/ingest/event.ts): a
 * meter naming any other property could never see it on an event.
 */
const PROPERTY_SHAPE = /^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,63}$/;

/** Collects field errors with catalogue codes; thrown at once as one VALIDATION_FAILED. */
export class CatalogueErrors {
  readonly list: FieldError[] = [];

  add(field: string, code: CatalogueFieldCode, detail: string = CATALOGUE_FIELD_CODES[code]): void {
    this.list.push({ field, code, detail });
  }

  /** Adds errors produced elsewhere, upper-casing lib/periods' codes. */
  addAll(errors: readonly FieldError[]): void {
    for (const error of errors) {
      this.list.push({ ...error, code: PERIOD_CODE_MAP[error.code] ?? error.code });
    }
  }

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

  /** Throws VALIDATION_FAILED carrying every error collected, if there is any. */
  throwIfAny(message = "The request is invalid"): void {
    if (this.list.length > 0) {
      throw validationFailed(this.list, message);
    }
  }
}

/** The one error every catalogue validation failure becomes (HTTP 422). */
export function validationFailed(
  errors: FieldError[],
  message = "The request is invalid",
): AppError {
  return new AppError("VALIDATION_FAILED", message, {
    detail: errors.map((e) => `${e.field}: ${e.detail}`).join("; "),
    fieldErrors: errors,
  });
}

/** Returns a body that must be a JSON object; VALIDATION_FAILED (INVALID_TYPE at "") if not. */
export function requireObject(input: unknown): Record<string, unknown> {
  if (!isRecord(input)) {
    throw validationFailed([
      { field: "", code: "INVALID_TYPE", detail: "The body must be a JSON object" },
    ]);
  }
  return input;
}

/** How `readText` checks one text field. */
export interface TextRule {
  required: boolean;
  maxLength: number;
  /** Allows JSON null (to clear an optional field); read as null. */
  nullable?: boolean;
  /** Allows tab, LF and CR (descriptions); other control characters are refused everywhere. */
  multiline?: boolean;
  shape?: { pattern: RegExp; code: CatalogueFieldCode };
}

/**
 * Reads `object[key]` as text. Returns undefined when absent or invalid (reported), null for an
 * allowed null. The empty string counts as absent for required fields. Text with NUL, another
 * control character or a lone surrogate is INVALID_TEXT (see `textProblem`).
 */
export function readText(
  object: Record<string, unknown>,
  key: string,
  errors: CatalogueErrors,
  rule: TextRule,
): string | null | undefined {
  const field = pointer("", key);
  const raw = object[key];
  if (raw === undefined || (raw === null && !rule.nullable) || (raw === "" && rule.required)) {
    if (rule.required) {
      errors.add(field, "REQUIRED", `"${key}" is required`);
    } else if (raw === null) {
      errors.add(field, "INVALID_TYPE", `"${key}" may not be null`);
    }
    return undefined;
  }
  if (raw === null) {
    return null;
  }
  if (typeof raw !== "string") {
    errors.add(field, "INVALID_TYPE", `"${key}" must be a string`);
    return undefined;
  }
  if (raw.length > rule.maxLength) {
    errors.add(field, "TOO_LONG", `At most ${rule.maxLength} characters`);
    return undefined;
  }
  const problem = textProblem(raw, { multiline: rule.multiline ?? false });
  if (problem !== null) {
    errors.add(field, "INVALID_TEXT", problem);
    return undefined;
  }
  if (rule.shape && !rule.shape.pattern.test(raw)) {
    errors.add(field, rule.shape.code);
    return undefined;
  }
  return raw;
}

/** Reads a property name (an event property key) at `field`; undefined when invalid. */
export function readPropertyName(
  raw: unknown,
  field: string,
  errors: CatalogueErrors,
): string | undefined {
  if (typeof raw !== "string") {
    errors.add(field, "INVALID_TYPE", "A property name must be a string");
    return undefined;
  }
  if (!PROPERTY_SHAPE.test(raw)) {
    errors.add(field, "INVALID_PROPERTY");
    return undefined;
  }
  return raw;
}

/** Reads an optional boolean; undefined when absent or invalid (reported). */
export function readBoolean(
  object: Record<string, unknown>,
  key: string,
  errors: CatalogueErrors,
): boolean | undefined {
  const raw = object[key];
  if (raw === undefined) {
    return undefined;
  }
  if (typeof raw !== "boolean") {
    errors.add(pointer("", key), "INVALID_TYPE", `"${key}" must be true or false`);
    return undefined;
  }
  return raw;
}

/** Reads an integer in [min, max] at `field`; undefined when invalid (reported). */
export function readInteger(
  raw: unknown,
  field: string,
  errors: CatalogueErrors,
  min: number,
  max: number,
): number | undefined {
  if (typeof raw !== "number" || !Number.isInteger(raw)) {
    errors.add(field, "INVALID_TYPE", "Must be an integer");
    return undefined;
  }
  if (raw < min || raw > max) {
    errors.add(field, "OUT_OF_RANGE", `Must be from ${min} to ${max}`);
    return undefined;
  }
  return raw;
}

/**
 * Reads an RFC 3339 instant with a zone (`2026-01-01T00:00:00Z`) that falls on a whole second,
 * as epoch milliseconds; undefined when invalid (reported at `field`).
 */
export function readEffectiveInstant(
  raw: unknown,
  field: string,
  errors: CatalogueErrors,
): number | undefined {
  if (raw === undefined || raw === null) {
    errors.add(field, "REQUIRED");
    return undefined;
  }
  const ms = typeof raw === "string" ? parseRfc3339(raw) : null;
  if (ms === null) {
    errors.add(field, "INVALID_INSTANT");
    return undefined;
  }
  if (ms % 1000 !== 0) {
    errors.add(field, "NOT_WHOLE_SECOND");
    return undefined;
  }
  return ms;
}

/** Whether two JSON-like values are equal (objects by keys, arrays by position). */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) {
    return true;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => sameJson(item, b[i]));
  }
  if (isRecord(a) && isRecord(b)) {
    const keys = Object.keys(a);
    return (
      keys.length === Object.keys(b).length && keys.every((k) => k in b && sameJson(a[k], b[k]))
    );
  }
  return false;
}
