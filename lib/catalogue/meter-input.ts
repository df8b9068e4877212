import { AppError } from "../errors/index.ts";
import {
  CatalogueErrors,
  KEY_SHAPE,
  pointer,
  readBoolean,
  readInteger,
  readPropertyName,
  readText,
  requireObject,
  sameJson,
} from "./fields.ts";
import { AGGREGATIONS, type Aggregation, type MeterDefinition } from "./meter.ts";

/** A meter as the catalogue stores it: the definition account meters use, plus a description. */
export interface MeterSpec extends MeterDefinition {
  description: string;
}

/** Most properties a meter keeps breakdowns for (each costs the account meter a row per value). */
export const MAX_GROUP_BY = 5;
/** Longest heartbeat timeout of a time-weighted meter: 31 days, longer than any month. */
export const MAX_HEARTBEAT_TIMEOUT_SECONDS = 31 * 86_400;
const MAX_NAME_LENGTH = 200;
const MAX_DESCRIPTION_LENGTH = 1000;
const MAX_UNIT_LENGTH = 64;

const CREATE_FIELDS = [
  "key",
  "name",
  "description",
  "aggregation",
  "unit",
  "valueProperty",
  "seriesProperty",
  "heartbeatTimeoutSeconds",
  "allowNegative",
  "groupBy",
] as const;

/** Fields that decide how events are counted: fixed once a meter exists. */
export const IMMUTABLE_METER_FIELDS = [
  "key",
  "aggregation",
  "valueProperty",
  "seriesProperty",
  "heartbeatTimeoutSeconds",
  "allowNegative",
] as const;

/** Fields a PATCH may change. */
export const MUTABLE_METER_FIELDS = ["name", "description", "unit", "groupBy"] as const;

/** The changes a valid meter PATCH makes (only the fields it sent). */
export type MeterPatch = Partial<Pick<MeterSpec, (typeof MUTABLE_METER_FIELDS)[number]>>;

function readGroupBy(raw: unknown, errors: CatalogueErrors): string[] | undefined {
  if (raw === undefined) {
    return [];
  }
  if (!Array.isArray(raw)) {
    errors.add("/groupBy", "INVALID_TYPE", '"groupBy" must be an array of property names');
    return undefined;
  }
  if (raw.length > MAX_GROUP_BY) {
    errors.add("/groupBy", "TOO_MANY_VALUES", `At most ${MAX_GROUP_BY} properties`);
    return undefined;
  }
  const out: string[] = [];
  let valid = true;
  for (const [index, item] of raw.entries()) {
    const name = readPropertyName(item, pointer("/groupBy", index), errors);
    if (name === undefined) {
      valid = false;
    } else if (out.includes(name)) {
      errors.add(pointer("/groupBy", index), "DUPLICATE_VALUE", `"${name}" is listed twice`);
      valid = false;
    } else {
      out.push(name);
    }
  }
  return valid ? out : undefined;
}

/** An optional property name that `aggregation` requires, allows or forbids. */
function readAggregationProperty(
  input: Record<string, unknown>,
  key: "valueProperty" | "seriesProperty",
  need: "required" | "optional" | "forbidden",
  aggregation: Aggregation,
  errors: CatalogueErrors,
): string | null {
  const raw = input[key];
  const field = pointer("", key);
  if (raw === undefined || raw === null) {
    if (need === "required") {
      errors.add(field, "REQUIRED", `A ${aggregation} meter needs "${key}"`);
    }
    return null;
  }
  if (need === "forbidden") {
    errors.add(field, "NOT_APPLICABLE", `A ${aggregation} meter has no "${key}"`);
    return null;
  }
  return readPropertyName(raw, field, errors) ?? null;
}

/**
 * Validates a meter to create. Reports every problem at once (VALIDATION_FAILED with field
 * errors): unique_count needs `valueProperty` (the property whose distinct values count);
 * time_weighted needs `seriesProperty` and `heartbeatTimeoutSeconds`; count and unique_count
 * carry no sign, so `allowNegative` is refused for them. `name` defaults to the key.
 */
export function parseMeterCreate(input: unknown): MeterSpec {
  const errors = new CatalogueErrors();
  const body = requireObject(input);
  errors.rejectUnknown(body, CREATE_FIELDS, "");
  const key = readText(body, "key", errors, {
    required: true,
    maxLength: 64,
    shape: { pattern: KEY_SHAPE, code: "INVALID_KEY" },
  });
  const name = readText(body, "name", errors, { required: false, maxLength: MAX_NAME_LENGTH });
  const description = readText(body, "description", errors, {
    required: false,
    maxLength: MAX_DESCRIPTION_LENGTH,
    multiline: true,
  });
  const unit = readText(body, "unit", errors, { required: true, maxLength: MAX_UNIT_LENGTH });
  const groupBy = readGroupBy(body.groupBy, errors);
  const allowNegative = readBoolean(body, "allowNegative", errors) ?? false;

  const rawAggregation = body.aggregation;
  let aggregation: Aggregation | undefined;
  if (rawAggregation === undefined || rawAggregation === null) {
    errors.add("/aggregation", "REQUIRED", '"aggregation" is required');
  } else if (!(AGGREGATIONS as readonly unknown[]).includes(rawAggregation)) {
    errors.add("/aggregation", "INVALID_VALUE", `One of ${AGGREGATIONS.join(", ")}`);
  } else {
    aggregation = rawAggregation as Aggregation;
  }

  let valueProperty: string | null = null;
  let seriesProperty: string | null = null;
  let heartbeatTimeoutSeconds: number | null = null;
  if (aggregation !== undefined) {
    const valueNeed =
      aggregation === "unique_count"
        ? "required"
        : aggregation === "count"
          ? "forbidden"
          : "optional";
    valueProperty = readAggregationProperty(body, "valueProperty", valueNeed, aggregation, errors);
    const timeWeighted = aggregation === "time_weighted";
    seriesProperty = readAggregationProperty(
      body,
      "seriesProperty",
      timeWeighted ? "required" : "forbidden",
      aggregation,
      errors,
    );
    const rawHeartbeat = body.heartbeatTimeoutSeconds;
    if (rawHeartbeat === undefined || rawHeartbeat === null) {
      if (timeWeighted) {
        errors.add("/heartbeatTimeoutSeconds", "REQUIRED", "A time_weighted meter needs one");
      }
    } else if (!timeWeighted) {
      errors.add("/heartbeatTimeoutSeconds", "NOT_APPLICABLE", "Only time_weighted meters");
    } else {
      heartbeatTimeoutSeconds =
        readInteger(
          rawHeartbeat,
          "/heartbeatTimeoutSeconds",
          errors,
          1,
          MAX_HEARTBEAT_TIMEOUT_SECONDS,
        ) ?? null;
    }
    if (allowNegative && (aggregation === "count" || aggregation === "unique_count")) {
      errors.add("/allowNegative", "NOT_APPLICABLE", `A ${aggregation} meter has no sign`);
    }
  }
  errors.throwIfAny("The meter is invalid");
  return {
    key: key as string,
    name: name || (key as string),
    description: description ?? "",
    aggregation: aggregation as Aggregation,
    unit: unit as string,
    valueProperty,
    seriesProperty,
    heartbeatTimeoutSeconds,
    allowNegative,
    groupBy: groupBy ?? [],
  };
}

/**
 * Validates a meter PATCH against the current meter. Mutable fields (name, description, unit,
 * groupBy) are validated as on create (422 with field errors). Fields that decide how events
 * are counted may be repeated unchanged but never changed: that is IMMUTABLE_FIELD (409), since
 * events already counted would disagree with new ones; create a new meter instead.
 */
export function parseMeterPatch(input: unknown, current: MeterSpec): MeterPatch {
  const errors = new CatalogueErrors();
  const body = requireObject(input);
  errors.rejectUnknown(body, CREATE_FIELDS, "");
  const patch: MeterPatch = {};
  const name = readText(body, "name", errors, { required: false, maxLength: MAX_NAME_LENGTH });
  if (name) {
    patch.name = name;
  } else if (name === "") {
    errors.add("/name", "REQUIRED", "A name may not be empty");
  }
  const description = readText(body, "description", errors, {
    required: false,
    maxLength: MAX_DESCRIPTION_LENGTH,
    multiline: true,
  });
  if (typeof description === "string") {
    patch.description = description;
  }
  const unit = readText(body, "unit", errors, { required: false, maxLength: MAX_UNIT_LENGTH });
  if (unit) {
    patch.unit = unit;
  } else if (unit === "") {
    errors.add("/unit", "REQUIRED", "A unit may not be empty");
  }
  if (body.groupBy !== undefined) {
    const groupBy = readGroupBy(body.groupBy, errors);
    if (groupBy !== undefined) {
      patch.groupBy = groupBy;
    }
  }
  errors.throwIfAny("The meter change is invalid");
  const changed = IMMUTABLE_METER_FIELDS.filter(
    (field) => body[field] !== undefined && !sameJson(body[field], current[field]),
  );
  if (changed.length > 0) {
    throw new AppError(
      "IMMUTABLE_FIELD",
      `Meter ${current.key}: ${changed.join(", ")} cannot change`,
      {
        detail:
          `${changed.join(", ")} decide how events are counted and cannot change once the meter ` +
          "exists. Create a new meter with the new definition and price it instead.",
        fieldErrors: changed.map((field) => ({
          field: pointer("", field),
          code: "IMMUTABLE",
          detail: `"${field}" is ${JSON.stringify(current[field])} and cannot change`,
        })),
      },
    );
  }
  return patch;
}
