import { Decimal } from "../money/decimal.ts";
import { PRICE_LIMITS } from "../pricing/fields.ts";
import type { CollectionMethod } from "./account-config.ts";
import { type CatalogueErrors, isRecord, pointer, readInteger, readText } from "./fields.ts";

/** Spend control: a budget per billing period, alert thresholds in percent, and a hard cap. */
export interface SpendSettings {
  /** Decimal text in the account currency, or null for no budget. */
  budget: string | null;
  alertPercents: number[];
  hardCap: boolean;
}

/** Contact and delivery fields of an account; null clears one. */
export interface AccountContact {
  email?: string | null;
  poNumber?: string | null;
  stripeCustomerId?: string | null;
  notificationUrl?: string | null;
}

/** Which notification URLs an environment accepts. */
export interface UrlPolicy {
  /** Accept http:// notification URLs (local development); production requires https. */
  allowHttp: boolean;
}

const COLLECTION_METHODS: readonly CollectionMethod[] = ["charge_automatically", "send_invoice"];
const MAX_NET_TERMS_DAYS = 365;
const MAX_ALERT_PERCENTS = 10;
const MAX_URL_LENGTH = 2048;
const EMAIL_SHAPE = /^[^\s@]{1,64}@[^\s@]+\.[^\s@]+$/;
const STRIPE_CUSTOMER_SHAPE = /^cus_[A-Za-z0-9]{1,250}$/;

/** Spend settings of an account created without any: alerts at 50, 80 and 100 %, no cap. */
export const DEFAULT_SPEND: SpendSettings = {
  budget: null,
  alertPercents: [50, 80, 100],
  hardCap: false,
};

/** The notification URL: absolute, https (or http when allowed), without credentials. */
function readUrl(
  body: Record<string, unknown>,
  errors: CatalogueErrors,
  policy: UrlPolicy,
): string | null | undefined {
  const text = readText(body, "notificationUrl", errors, {
    required: false,
    nullable: true,
    maxLength: MAX_URL_LENGTH,
  });
  if (typeof text !== "string") {
    return text;
  }
  let url: URL | null = null;
  try {
    url = new URL(text);
  } catch {
    url = null;
  }
  const schemeOk = url?.protocol === "https:" || (policy.allowHttp && url?.protocol === "http:");
  if (!url || !schemeOk || url.username !== "" || url.password !== "") {
    errors.add("/notificationUrl", "INVALID_URL");
    return undefined;
  }
  return text;
}

/** Spend settings: a non-negative budget, distinct percentages, and a cap only with a budget. */
export function readSpend(raw: unknown, errors: CatalogueErrors): SpendSettings | undefined {
  if (!isRecord(raw)) {
    errors.add("/spend", "INVALID_TYPE", '"spend" must be an object');
    return undefined;
  }
  errors.rejectUnknown(raw, ["budget", "alertPercents", "hardCap"], "/spend");
  let budget: string | null = null;
  let valid = true;
  if (raw.budget !== undefined && raw.budget !== null) {
    const parsed = typeof raw.budget === "string" ? Decimal.parse(raw.budget) : null;
    if (parsed === null) {
      errors.add("/spend/budget", "INVALID_TYPE", "A budget is a decimal string such as 500.00");
      valid = false;
    } else if (!parsed.ok) {
      errors.add("/spend/budget", "INVALID_DECIMAL", parsed.detail);
      valid = false;
    } else if (parsed.value.isNegative()) {
      errors.add("/spend/budget", "NEGATIVE_NOT_ALLOWED");
      valid = false;
    } else if (parsed.value.fractionalDigits() > PRICE_LIMITS.maxFractionalDigits) {
      errors.add("/spend/budget", "PRICE_TOO_PRECISE");
      valid = false;
    } else if (parsed.value.integerDigits() > PRICE_LIMITS.maxIntegerDigits) {
      errors.add("/spend/budget", "VALUE_TOO_LARGE");
      valid = false;
    } else {
      budget = parsed.value.normalize().toString();
    }
  }
  let alertPercents = DEFAULT_SPEND.alertPercents;
  if (raw.alertPercents !== undefined) {
    if (!Array.isArray(raw.alertPercents)) {
      errors.add("/spend/alertPercents", "INVALID_TYPE", "A list of whole percentages");
      valid = false;
    } else if (raw.alertPercents.length > MAX_ALERT_PERCENTS) {
      errors.add("/spend/alertPercents", "TOO_MANY_VALUES", `At most ${MAX_ALERT_PERCENTS}`);
      valid = false;
    } else {
      const seen: number[] = [];
      for (const [index, item] of raw.alertPercents.entries()) {
        const field = pointer("/spend/alertPercents", index);
        const percent = readInteger(item, field, errors, 1, 1000);
        if (percent === undefined) {
          valid = false;
        } else if (seen.includes(percent)) {
          errors.add(field, "DUPLICATE_VALUE", `${percent} is listed twice`);
          valid = false;
        } else {
          seen.push(percent);
        }
      }
      alertPercents = seen.sort((a, b) => a - b);
    }
  }
  let hardCap = false;
  if (raw.hardCap !== undefined) {
    if (typeof raw.hardCap !== "boolean") {
      errors.add("/spend/hardCap", "INVALID_TYPE", '"hardCap" must be true or false');
      valid = false;
    } else {
      hardCap = raw.hardCap;
    }
  }
  if (hardCap && budget === null && valid) {
    errors.add("/spend/budget", "REQUIRED", "A hard cap needs a budget to cap at");
    valid = false;
  }
  return valid ? { budget, alertPercents, hardCap } : undefined;
}

/** The collection method, when sent; INVALID_VALUE for anything else. */
export function readCollectionMethod(
  body: Record<string, unknown>,
  errors: CatalogueErrors,
): CollectionMethod | undefined {
  const raw = body.collectionMethod;
  if (raw === undefined) {
    return undefined;
  }
  if (!(COLLECTION_METHODS as readonly unknown[]).includes(raw)) {
    errors.add("/collectionMethod", "INVALID_VALUE", `One of ${COLLECTION_METHODS.join(", ")}`);
    return undefined;
  }
  return raw as CollectionMethod;
}

/** Net terms: required with send_invoice, meaningless with charge_automatically. */
export function readNetTerms(
  body: Record<string, unknown>,
  method: CollectionMethod | undefined,
  fallback: number | undefined,
  errors: CatalogueErrors,
): number | undefined {
  const raw = body.netTermsDays;
  if (raw === undefined || raw === null) {
    if (method === "send_invoice" && fallback === undefined) {
      errors.add(
        "/netTermsDays",
        "REQUIRED",
        "send_invoice needs the days until an invoice is due",
      );
    }
    return method === "charge_automatically" ? 0 : fallback;
  }
  if (method === "charge_automatically") {
    errors.add("/netTermsDays", "NOT_APPLICABLE", "Only send_invoice accounts have net terms");
    return undefined;
  }
  return readInteger(raw, "/netTermsDays", errors, 0, MAX_NET_TERMS_DAYS);
}

/** The optional contact and delivery fields shared by create and PATCH. */
export function readContact(
  body: Record<string, unknown>,
  errors: CatalogueErrors,
  policy: UrlPolicy,
): AccountContact {
  const out: AccountContact = {};
  const email = readText(body, "email", errors, {
    required: false,
    nullable: true,
    maxLength: 254,
    shape: { pattern: EMAIL_SHAPE, code: "INVALID_EMAIL" },
  });
  if (email !== undefined) {
    out.email = email;
  }
  const poNumber = readText(body, "poNumber", errors, {
    required: false,
    nullable: true,
    maxLength: 100,
  });
  if (poNumber !== undefined) {
    out.poNumber = poNumber;
  }
  const customer = readText(body, "stripeCustomerId", errors, {
    required: false,
    nullable: true,
    maxLength: 254,
    shape: { pattern: STRIPE_CUSTOMER_SHAPE, code: "INVALID_VALUE" },
  });
  if (customer !== undefined) {
    out.stripeCustomerId = customer;
  }
  const url = readUrl(body, errors, policy);
  if (url !== undefined) {
    out.notificationUrl = url;
  }
  return out;
}
