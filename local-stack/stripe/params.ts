/**
 * Typed reading of one endpoint's form parameters with Stripe's validation messages. Unknown
 * top-level parameters are rejected (as Stripe does), so a typo in meterline fails loudly here.
 */
import { badRequest, missingParam, unknownParam } from "./failure.ts";
import type { FormObject, FormValue } from "./form.ts";

/** A value "unset" by posting an empty string: Stripe stores null. */
export const UNSET = null;

/** One endpoint's (or nested hash's) parameters with Stripe's validation errors. */
export class Params {
  readonly raw: FormObject;
  readonly #prefix: string;

  /** Checks that only `allowed` names (plus `expand`) are present. */
  constructor(raw: FormObject, allowed: readonly string[], prefix = "") {
    this.raw = raw;
    this.#prefix = prefix;
    for (const key of Object.keys(raw)) {
      if (key !== "expand" && !allowed.includes(key)) {
        throw unknownParam(this.name(key));
      }
    }
  }

  /** The parameter's name as Stripe reports it, e.g. `card[exp_month]`. */
  name(key: string): string {
    return this.#prefix === "" ? key : `${this.#prefix}[${key}]`;
  }

  has(key: string): boolean {
    return this.raw[key] !== undefined;
  }

  #scalar(key: string): string | undefined {
    const value = this.raw[key];
    if (value !== undefined && typeof value !== "string") {
      throw badRequest(`Invalid string: ${this.name(key)} must be a string, not a hash.`, key);
    }
    return value;
  }

  /** A string; "" means unset and reads as null. */
  string(key: string, options: { required?: boolean; maxLength?: number } = {}) {
    const value = this.#scalar(key);
    if (value === undefined || (value === "" && options.required)) {
      if (options.required) {
        throw missingParam(this.name(key));
      }
      return undefined;
    }
    if (value === "") {
      return UNSET;
    }
    if (options.maxLength !== undefined && value.length > options.maxLength) {
      throw badRequest(
        `Invalid string: ${this.name(key)} must be at most ${options.maxLength} characters.`,
        this.name(key),
        "parameter_invalid_string_too_long",
      );
    }
    return value;
  }

  /** A required non-empty string. */
  requiredString(key: string): string {
    return this.string(key, { required: true }) as string;
  }

  /** A base-10 integer within JavaScript's exact range. */
  integer(key: string, options: { required?: boolean; min?: number } = {}): number | undefined {
    const value = this.#scalar(key);
    if (value === undefined || value === "") {
      if (options.required) {
        throw missingParam(this.name(key));
      }
      return undefined;
    }
    if (!/^-?\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
      throw badRequest(`Invalid integer: ${value}`, this.name(key), "parameter_invalid_integer");
    }
    const number = Number(value);
    if (options.min !== undefined && number < options.min) {
      const what = options.min === 1 ? "positive integer" : `integer >= ${options.min}`;
      throw badRequest(`Invalid ${what}: ${value}`, this.name(key), "parameter_invalid_integer");
    }
    return number;
  }

  boolean(key: string): boolean | undefined {
    const value = this.#scalar(key);
    if (value === undefined || value === "") {
      return undefined;
    }
    if (value !== "true" && value !== "false") {
      throw badRequest(`Invalid boolean: ${value}`, this.name(key));
    }
    return value === "true";
  }

  enumOf<T extends string>(key: string, values: readonly T[]): T | null | undefined {
    const value = this.string(key);
    if (value === undefined || value === null) {
      return value;
    }
    if (!(values as readonly string[]).includes(value)) {
      throw badRequest(
        `Invalid ${this.name(key)}: must be one of ${values.join(", ")}`,
        this.name(key),
      );
    }
    return value as T;
  }

  /** A nested hash (e.g. `card[...]`), read with its own allow-list; "" means unset. */
  hash(key: string, allowed: readonly string[]): Params | null | undefined {
    const value = this.raw[key];
    if (value === undefined) {
      return undefined;
    }
    if (value === "") {
      return null;
    }
    if (typeof value === "string") {
      throw badRequest(`Invalid object: ${this.name(key)} must be a hash.`, this.name(key));
    }
    return new Params(value, allowed, this.name(key));
  }

  /** A list sent as `key[0]=a&key[1]=b` (or `key[]=`), in index order. */
  list(key: string): string[] | undefined {
    return readList(this.raw[key], this.name(key));
  }

  /** `expand[]`: dotted paths to replace ids with objects in the response. */
  expand(): string[] {
    return readList(this.raw.expand, "expand") ?? [];
  }
}

function readList(value: FormValue | undefined, name: string): string[] | undefined {
  if (value === undefined) {
    return undefined;
  }
  if (value === "") {
    return [];
  }
  if (typeof value === "string") {
    throw badRequest(`Invalid array: ${name} must be an array.`, name);
  }
  const indices = Object.keys(value);
  if (!indices.every((index) => /^\d+$/.test(index))) {
    throw badRequest(`Invalid array: ${name} must be an array.`, name);
  }
  return indices
    .sort((a, b) => Number(a) - Number(b))
    .map((index) => {
      const item = value[index];
      if (typeof item !== "string") {
        throw badRequest(`Invalid array: ${name}[${index}] must be a string.`, name);
      }
      return item;
    });
}

const METADATA_MAX_KEYS = 50;
const METADATA_KEY_MAX = 40;
const METADATA_VALUE_MAX = 500;

/**
 * Applies a `metadata` parameter to the current metadata as Stripe does: `metadata=` clears all
 * keys, `metadata[k]=` removes one key, other values set keys. Returns the current object
 * unchanged when the parameter is absent.
 */
export function applyMetadata(
  current: Record<string, string>,
  value: FormValue | undefined,
): Record<string, string> {
  if (value === undefined) {
    return current;
  }
  if (value === "") {
    return {};
  }
  if (typeof value === "string") {
    throw badRequest("Invalid metadata: metadata must be a hash.", "metadata");
  }
  const next = { ...current };
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== "string") {
      throw badRequest(
        `Invalid value for metadata[${key}]: nested hashes are not allowed.`,
        `metadata[${key}]`,
      );
    }
    if (key.length > METADATA_KEY_MAX) {
      throw badRequest(
        `Metadata keys can be at most ${METADATA_KEY_MAX} characters; ${key} is longer.`,
        `metadata[${key}]`,
      );
    }
    if (item.length > METADATA_VALUE_MAX) {
      throw badRequest(
        `Metadata values can be at most ${METADATA_VALUE_MAX} characters.`,
        `metadata[${key}]`,
      );
    }
    if (item === "") {
      delete next[key];
    } else {
      next[key] = item;
    }
  }
  if (Object.keys(next).length > METADATA_MAX_KEYS) {
    throw badRequest(
      `Metadata can have at most ${METADATA_MAX_KEYS} keys.`,
      "metadata",
      "parameter_invalid_metadata",
    );
  }
  return next;
}
