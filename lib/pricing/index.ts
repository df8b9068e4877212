export { PRICING_FIELD_CODES, type PricingFieldCode } from "./codes.ts";
export { commitmentTopUp } from "./commitment.ts";
export { explainTotal, type RatingLine } from "./explain.ts";
export { PRICE_LIMITS, QUANTITY_LIMITS, type ValidationResult } from "./fields.ts";
export {
  MAX_PRICES_PER_VERSION,
  type Plan,
  type PlanInput,
  type PlanVersion,
  type PlanVersionInput,
  planVersionAt,
  validatePlan,
  validatePlanVersion,
} from "./plan.ts";
export { PRORATION_SCALE, prorate } from "./prorate.ts";
export {
  billableQuantity,
  isQuantityPrice,
  rateEvent,
  rateEvents,
  rateIncrement,
  ratePerEvent,
  rateTotal,
} from "./rate.ts";
export type * from "./types.ts";
export { PRICE_MODELS } from "./types.ts";
export { compilePrice, MAX_TIERS, validatePrice } from "./validate.ts";
