import { AppError } from "../errors/index.ts";
import { checkCurrencyCode } from "../money/currency.ts";
import type { IntervalSpec } from "../periods/interval-spec.ts";
import { parseIntervalSpec } from "../periods/interval-spec.ts";
import { timeZoneErrors } from "../periods/zone.ts";
import type { CollectionMethod } from "./account-config.ts";
import {
  type AccountContact,
  DEFAULT_SPEND,
  readCollectionMethod,
  readContact,
  readNetTerms,
  readSpend,
  type SpendSettings,
  type UrlPolicy,
} from "./account-fields.ts";
import {
  ACCOUNT_ID_SHAPE,
  CatalogueErrors,
  pointer,
  readEffectiveInstant,
  readText,
  requireObject,
  sameJson,
} from "./fields.ts";

export type { SpendSettings, UrlPolicy };

/** The account fields an admin may set after creation. Null clears an optional field. */
export interface AccountChanges extends AccountContact {
  name?: string;
  collectionMethod?: CollectionMethod;
  netTermsDays?: number;
  spend?: SpendSettings;
}

/** A new account, validated. `id` null means "generate one". */
export interface AccountDraft {
  id: string | null;
  name: string;
  email: string | null;
  currency: string;
  timeZone: string;
  billingInterval: IntervalSpec;
  collectionMethod: CollectionMethod;
  netTermsDays: number;
  poNumber: string | null;
  stripeCustomerId: string | null;
  notificationUrl: string | null;
  spend: SpendSettings;
  /** The plan to start on, or null for none yet (usage is then counted but unpriced). */
  planId: string | null;
  /** When that plan starts; null means at creation. */
  planEffectiveFromMs: number | null;
}

/** The stored state a PATCH is checked against. */
export interface AccountState {
  id: string;
  currency: string;
  timeZone: string;
  billingInterval: IntervalSpec;
  collectionMethod: CollectionMethod;
  netTermsDays: number;
}

const CREATE_FIELDS = [
  "id",
  "name",
  "email",
  "currency",
  "timeZone",
  "billingInterval",
  "collectionMethod",
  "netTermsDays",
  "poNumber",
  "stripeCustomerId",
  "notificationUrl",
  "spend",
  "planId",
  "planEffectiveFrom",
] as const;

/** Fixed at creation: rated usage, periods and invoices already depend on them. */
export const IMMUTABLE_ACCOUNT_FIELDS = ["id", "currency", "timeZone", "billingInterval"] as const;

const PATCH_FIELDS = [
  ...IMMUTABLE_ACCOUNT_FIELDS,
  "name",
  "email",
  "collectionMethod",
  "netTermsDays",
  "poNumber",
  "stripeCustomerId",
  "notificationUrl",
  "spend",
] as const;

/**
 * Validates a new account, reporting every problem at once (VALIDATION_FAILED). The plan's
 * existence and currency are checked by the store, which reports them with the same codes.
 */
export function parseAccountCreate(input: unknown, policy: UrlPolicy): AccountDraft {
  const errors = new CatalogueErrors();
  const body = requireObject(input);
  errors.rejectUnknown(body, CREATE_FIELDS, "");
  const id = readText(body, "id", errors, {
    required: false,
    maxLength: 64,
    shape: { pattern: ACCOUNT_ID_SHAPE, code: "INVALID_ID" },
  });
  const name = readText(body, "name", errors, { required: true, maxLength: 200 });
  const currencyError = checkCurrencyCode(body.currency, "/currency");
  if (currencyError !== null) {
    errors.add("/currency", body.currency === undefined ? "REQUIRED" : "UNKNOWN_CURRENCY");
  }
  if (body.timeZone === undefined) {
    errors.add("/timeZone", "REQUIRED", '"timeZone" is required, e.g. "Europe/Paris"');
  } else {
    errors.addAll(timeZoneErrors(body.timeZone, "/timeZone"));
  }
  let billingInterval: IntervalSpec | undefined;
  if (body.billingInterval === undefined) {
    errors.add("/billingInterval", "REQUIRED", '"billingInterval" is required');
  } else {
    const parsed = parseIntervalSpec(body.billingInterval, "/billingInterval");
    if (parsed.ok) {
      billingInterval = parsed.spec;
    } else {
      errors.addAll(parsed.errors);
    }
  }
  const method = readCollectionMethod(body, errors);
  const collectionMethod =
    method ?? (body.collectionMethod === undefined ? "charge_automatically" : undefined);
  const netTermsDays = readNetTerms(body, collectionMethod, undefined, errors);
  const texts = readContact(body, errors, policy);
  const spend = body.spend === undefined ? DEFAULT_SPEND : readSpend(body.spend, errors);
  const planId = readText(body, "planId", errors, { required: false, maxLength: 64 });
  let planEffectiveFromMs: number | null = null;
  if (body.planEffectiveFrom !== undefined) {
    if (planId === undefined) {
      errors.add("/planEffectiveFrom", "NOT_APPLICABLE", "Only with a planId");
    } else {
      planEffectiveFromMs =
        readEffectiveInstant(body.planEffectiveFrom, "/planEffectiveFrom", errors) ?? null;
    }
  }
  errors.throwIfAny("The account is invalid");
  return {
    id: id || null,
    name: name as string,
    email: texts.email ?? null,
    currency: body.currency as string,
    timeZone: body.timeZone as string,
    billingInterval: billingInterval as IntervalSpec,
    collectionMethod: collectionMethod as CollectionMethod,
    netTermsDays: netTermsDays ?? 0,
    poNumber: texts.poNumber ?? null,
    stripeCustomerId: texts.stripeCustomerId ?? null,
    notificationUrl: texts.notificationUrl ?? null,
    spend: spend as SpendSettings,
    planId: planId || null,
    planEffectiveFromMs,
  };
}

/**
 * Validates an account PATCH against its stored state. Mutable fields are validated as on
 * create (422). `id`, `currency`, `timeZone` and `billingInterval` may be repeated unchanged
 * but never changed (IMMUTABLE_FIELD, 409): rated amounts, billing periods and open invoices
 * already depend on them. Plans change through POST /v1/accounts/{id}/plan.
 */
export function parseAccountPatch(
  input: unknown,
  current: AccountState,
  policy: UrlPolicy,
): AccountChanges {
  const errors = new CatalogueErrors();
  const body = requireObject(input);
  for (const key of Object.keys(body)) {
    if (!(PATCH_FIELDS as readonly string[]).includes(key)) {
      const detail =
        key === "planId" || key === "planEffectiveFrom"
          ? "Change plans with POST /v1/accounts/{id}/plan"
          : `Unknown field "${key}"`;
      errors.add(pointer("", key), "UNKNOWN_FIELD", detail);
    }
  }
  const changes: AccountChanges = {};
  const name = readText(body, "name", errors, { required: false, maxLength: 200 });
  if (name) {
    changes.name = name;
  } else if (name === "") {
    errors.add("/name", "REQUIRED", "A name may not be empty");
  }
  const method = readCollectionMethod(body, errors);
  if (method !== undefined) {
    changes.collectionMethod = method;
  }
  const effectiveMethod =
    method ?? (body.collectionMethod === undefined ? current.collectionMethod : undefined);
  // An account staying on send_invoice keeps its terms unless new ones are sent; one switching
  // to it must send them; one switching to charge_automatically drops them (0).
  const fallback = current.collectionMethod === "send_invoice" ? current.netTermsDays : undefined;
  const netTermsDays = readNetTerms(body, effectiveMethod, fallback, errors);
  if (netTermsDays !== undefined && netTermsDays !== current.netTermsDays) {
    changes.netTermsDays = netTermsDays;
  }
  Object.assign(changes, readContact(body, errors, policy));
  if (body.spend !== undefined) {
    const spend = readSpend(body.spend, errors);
    if (spend !== undefined) {
      changes.spend = spend;
    }
  }
  errors.throwIfAny("The account change is invalid");
  const changed = IMMUTABLE_ACCOUNT_FIELDS.filter(
    (field) => body[field] !== undefined && !sameJson(body[field], current[field]),
  );
  if (changed.length > 0) {
    throw new AppError(
      "IMMUTABLE_FIELD",
      `Account ${current.id}: ${changed.join(", ")} cannot change`,
      {
        detail:
          `${changed.join(", ")} are fixed when an account is created: rated usage, billing ` +
          "periods and invoices depend on them. Create a new account to change them.",
        fieldErrors: changed.map((field) => ({
          field: pointer("", field),
          code: "IMMUTABLE",
          detail: `"${field}" is ${JSON.stringify(current[field])} and cannot change`,
        })),
      },
    );
  }
  return changes;
}
