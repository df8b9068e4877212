import { z } from "@hono/zod-openapi";
import { CATALOGUE_LEAD_SECONDS } from "../../../lib/catalogue/lead-time.ts";
import { AGGREGATIONS } from "../../../lib/catalogue/meter.ts";
import { MAX_PAGE_SIZE } from "../../../lib/catalogue/pagination.ts";
import { MAX_DAY_COUNT, MAX_WEEK_COUNT, MONTH_COUNTS } from "../../../lib/periods/index.ts";
import { PRICE_MODELS } from "../../../lib/pricing/types.ts";

// OpenAPI descriptions of the catalogue API. lib/catalogue validates requests (see
// mountAdminRoute); these schemas document them and the responses.

const decimal = (description: string) =>
  z.string().openapi({ description: `${description} (decimal string)`, example: "0.002" });
const instant = (description: string) =>
  z.string().openapi({ description, example: "2026-01-01T00:00:00Z" });

export const PageQuery = z.object({
  limit: z
    .string()
    .optional()
    .openapi({ description: `1 to ${MAX_PAGE_SIZE}, default 20`, example: "20" }),
  cursor: z.string().optional().openapi({ description: "`next_cursor` of the previous page" }),
});

export const IdempotencyHeader = z.object({
  "idempotency-key": z
    .string()
    .max(255)
    .optional()
    .openapi({
      description:
        "Makes the create safe to retry: the same key and body replay the first response " +
        "(with `Idempotent-Replayed: true`); the same key with another body is a 409.",
    }),
});

export function pageOf<T extends z.ZodType>(item: T, name: string) {
  return z.object({ data: z.array(item), next_cursor: z.string().nullable() }).openapi(name);
}

const MeterFields = {
  name: z.string().max(200).openapi({ description: "Defaults to the key" }),
  description: z.string().max(1000),
  unit: z.string().max(64).openapi({ example: "tokens" }),
  groupBy: z
    .array(z.string())
    .max(5)
    .openapi({ description: "Properties the account meter keeps per-value totals for" }),
};

export const MeterCreate = z
  .object({
    key: z.string().openapi({ example: "tokens_in" }),
    aggregation: z.enum(AGGREGATIONS),
    valueProperty: z
      .string()
      .nullable()
      .optional()
      .openapi({
        description:
          "Property carrying the value when the event has none; required for unique_count (the " +
          "property whose distinct values count), refused for count",
      }),
    seriesProperty: z.string().nullable().optional().openapi({
      description: "time_weighted only (required): the property naming a series",
    }),
    heartbeatTimeoutSeconds: z.number().int().nullable().optional().openapi({
      description: "time_weighted only (required): a silent series closes after this long",
    }),
    allowNegative: z.boolean().optional().openapi({ description: "Default false" }),
    unit: MeterFields.unit,
    name: MeterFields.name.optional(),
    description: MeterFields.description.optional(),
    groupBy: MeterFields.groupBy.optional(),
  })
  .openapi("MeterCreate");

export const MeterPatch = z
  .object({
    name: MeterFields.name.optional(),
    description: MeterFields.description.optional(),
    unit: MeterFields.unit.optional(),
    groupBy: MeterFields.groupBy.optional(),
  })
  .openapi("MeterPatch", {
    description:
      "aggregation, valueProperty, seriesProperty, heartbeatTimeoutSeconds and allowNegative are " +
      "fixed at creation: sending a different value is a 409 IMMUTABLE_FIELD.",
  });

export const Meter = z
  .object({
    key: z.string(),
    name: z.string(),
    description: z.string(),
    aggregation: z.enum(AGGREGATIONS),
    unit: z.string(),
    valueProperty: z.string().nullable(),
    seriesProperty: z.string().nullable(),
    heartbeatTimeoutSeconds: z.number().int().nullable(),
    allowNegative: z.boolean(),
    groupBy: z.array(z.string()),
    revision: z.number().int(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("Meter");

const Tier = z.object({
  from: decimal("Optional; must equal the previous tier's upTo").optional(),
  upTo: decimal("Inclusive upper bound; null on the open-ended last tier").nullable(),
  unitPrice: decimal("Price per unit in the tier"),
  flatFee: decimal("Charged once when the quantity reaches the tier").optional(),
});

export const Price = z
  .object({
    model: z.enum(PRICE_MODELS as [string, ...string[]]),
    unitPrice: decimal("per_unit").optional(),
    packageSize: decimal("package").optional(),
    packagePrice: decimal("package").optional(),
    tiers: z.array(Tier).optional().openapi({ description: "graduated and volume" }),
    ratePercent: decimal("percentage: take rate in percent of each event's value").optional(),
    minPerEvent: decimal("percentage").optional(),
    maxPerEvent: decimal("percentage").optional(),
    fixedPerEvent: decimal("percentage").optional(),
    includedQuantity: decimal("Free allowance per period").optional(),
    minimumCharge: decimal("Commitment per period, topped up on the invoice").optional(),
  })
  .openapi("Price");

const VersionFields = {
  currency: z.string().openapi({ description: "ISO 4217; one per plan", example: "USD" }),
  baseFee: decimal("Flat fee per billing period, prorated by the second").optional(),
  prices: z.record(z.string(), Price).openapi({ description: "By meter key; {} for none" }),
};

export const PlanVersionCreate = z
  .object({
    currency: VersionFields.currency.optional().openapi({ description: "Defaults to the plan's" }),
    baseFee: VersionFields.baseFee,
    prices: VersionFields.prices,
    effectiveFrom: instant(
      `Whole second, at least ${CATALOGUE_LEAD_SECONDS} s ahead and after the latest version`,
    ),
  })
  .openapi("PlanVersionCreate");

export const PlanCreate = z
  .object({
    key: z.string().openapi({ example: "pro" }),
    name: z.string().max(200),
    versions: z
      .array(
        z.object({
          currency: VersionFields.currency,
          baseFee: VersionFields.baseFee,
          prices: VersionFields.prices,
          effectiveFrom: instant("Whole second; the first defaults to now").optional(),
        }),
      )
      .min(1)
      .openapi({ description: "Ordered by effectiveFrom; usually one" }),
  })
  .openapi("PlanCreate");

export const PlanVersion = z
  .object({
    id: z.string(),
    version: z.number().int(),
    effectiveFrom: z.string(),
    currency: z.string(),
    baseFee: z.string(),
    prices: z.record(z.string(), Price),
    createdAt: z.string(),
  })
  .openapi("PlanVersion");

export const Plan = z
  .object({
    id: z.string(),
    key: z.string(),
    name: z.string(),
    currency: z.string(),
    createdAt: z.string(),
    versions: z.array(PlanVersion),
  })
  .openapi("Plan");

// The shapes lib/periods parseIntervalSpec accepts, one per unit; unknown keys are refused.
const anchorDay = z.number().int().min(1).max(31).openapi({
  description: "Day of the month a period starts; 29–31 fall on the last day of shorter months",
});
const anchorDate = z.string().openapi({
  format: "date",
  description: "Any date (YYYY-MM-DD) on which a period starts; it sets the phase only",
});
const Interval = z
  .discriminatedUnion("unit", [
    z
      .strictObject({
        unit: z.literal("month"),
        count: z
          .number()
          .int()
          .openapi({ enum: [...MONTH_COUNTS], description: "Months per period: divides a year" }),
        anchorDay,
        anchorMonth: z.number().int().min(1).max(12).optional().openapi({
          description: "A month that starts a period (default 1), when count > 1",
        }),
      })
      .openapi("MonthlyBillingInterval", { example: { unit: "month", count: 1, anchorDay: 1 } }),
    z
      .strictObject({
        unit: z.literal("year"),
        anchorMonth: z.number().int().min(1).max(12),
        anchorDay: anchorDay.openapi({ description: "Must exist in anchorMonth (Feb 29 may)" }),
      })
      .openapi("YearlyBillingInterval", {
        example: { unit: "year", anchorMonth: 1, anchorDay: 1 },
      }),
    z
      .strictObject({
        unit: z.literal("day"),
        count: z.number().int().min(1).max(MAX_DAY_COUNT),
        anchorDate,
      })
      .openapi("DailyBillingInterval", {
        example: { unit: "day", count: 7, anchorDate: "2026-01-05" },
      }),
    z
      .strictObject({
        unit: z.literal("week"),
        count: z.number().int().min(1).max(MAX_WEEK_COUNT),
        anchorDate,
      })
      .openapi("WeeklyBillingInterval", {
        example: { unit: "week", count: 2, anchorDate: "2026-01-05" },
      }),
  ])
  .openapi("BillingInterval", {
    description: "Periods by calendar unit, each at local midnight; see lib/periods/README.md",
  });

const Spend = z
  .object({
    budget: decimal("Per billing period, in the account currency").nullable().optional(),
    alertPercents: z.array(z.number().int()).optional(),
    hardCap: z.boolean().optional(),
  })
  .openapi("SpendSettings");

const AccountMutable = {
  name: z.string().max(200),
  email: z.string().nullable().optional(),
  collectionMethod: z.enum(["charge_automatically", "send_invoice"]).optional(),
  netTermsDays: z
    .number()
    .int()
    .optional()
    .openapi({ description: "send_invoice only (required): days until the invoice is due" }),
  poNumber: z.string().nullable().optional(),
  stripeCustomerId: z.string().nullable().optional().openapi({ example: "cus_123" }),
  notificationUrl: z.string().nullable().optional().openapi({ description: "https URL" }),
  spend: Spend.optional(),
};

export const AccountCreate = z
  .object({
    id: z
      .string()
      .optional()
      .openapi({ description: "Your id ([A-Za-z0-9][A-Za-z0-9_.:-]{0,63}); default acct_…" }),
    currency: z.string().openapi({ example: "USD" }),
    timeZone: z.string().openapi({ example: "America/New_York" }),
    billingInterval: Interval,
    planId: z.string().optional(),
    planEffectiveFrom: instant("When the first plan starts; default now").optional(),
    ...AccountMutable,
  })
  .openapi("AccountCreate");

export const AccountPatch = z
  .object({ ...AccountMutable, name: AccountMutable.name.optional() })
  .openapi("AccountPatch", {
    description:
      "currency, timeZone and billingInterval are fixed at creation (409 IMMUTABLE_FIELD); " +
      "plans change with POST /v1/accounts/{id}/plan.",
  });

export const PlanSwitch = z
  .object({
    planId: z.string(),
    effectiveFrom: instant(
      `Whole second, at least ${CATALOGUE_LEAD_SECONDS} s ahead and after the latest switch`,
    ),
  })
  .openapi("PlanSwitch");

export const Account = z
  .object({
    id: z.string(),
    name: z.string(),
    email: z.string().nullable(),
    currency: z.string(),
    timeZone: z.string(),
    billingInterval: Interval,
    collectionMethod: z.enum(["charge_automatically", "send_invoice"]),
    netTermsDays: z.number().int(),
    poNumber: z.string().nullable(),
    stripeCustomerId: z.string().nullable(),
    notificationUrl: z.string().nullable(),
    spend: z.object({
      budget: z.string().nullable(),
      alertPercents: z.array(z.number().int()),
      hardCap: z.boolean(),
    }),
    planId: z.string().nullable().openapi({ description: "The plan in effect now" }),
    planSchedule: z.array(z.object({ planId: z.string(), effectiveFrom: z.string() })),
    configRevision: z.number().int(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("Account");
