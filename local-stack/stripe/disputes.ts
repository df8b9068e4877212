/**
 * Disputes and Radar early fraud warnings on succeeded charges: created by the test cards that
 * cause them or by the control API, disputes closed as won or lost. Endpoints: retrieve, list,
 * and `POST /v1/disputes/:id/close` (accepting a dispute, which loses it).
 */
import type { Ctx } from "./context.ts";
import { emitEvent, previousAttributes } from "./events.ts";
import { invalidRequest, resourceMissing } from "./failure.ts";
import type { FormObject } from "./form.ts";
import { newId } from "./ids.ts";
import { LIST_PARAMS, listPage } from "./lists.ts";
import { applyMetadata, Params } from "./params.ts";
import { clone, type StoredObject, type StripeObject } from "./state.ts";

const OPEN_STATUSES = [
  "needs_response",
  "under_review",
  "warning_needs_response",
  "warning_under_review",
];
const EVIDENCE_FIELDS = [
  "access_activity_log",
  "billing_address",
  "cancellation_policy",
  "cancellation_policy_disclosure",
  "cancellation_rebuttal",
  "customer_communication",
  "customer_email_address",
  "customer_name",
  "customer_purchase_ip",
  "customer_signature",
  "duplicate_charge_documentation",
  "duplicate_charge_explanation",
  "duplicate_charge_id",
  "product_description",
  "receipt",
  "refund_policy",
  "refund_policy_disclosure",
  "refund_refusal_explanation",
  "service_date",
  "service_documentation",
  "shipping_address",
  "shipping_carrier",
  "shipping_date",
  "shipping_documentation",
  "shipping_tracking_number",
  "uncategorized_file",
  "uncategorized_text",
];
/** Days a merchant has to answer a dispute before `evidence_details.due_by`. */
const EVIDENCE_DAYS = 7;

/** Marks the charge's early fraud warnings not actionable (disputed or fully refunded). */
export function settleFraudWarnings(ctx: Ctx, chargeId: string): void {
  for (const warning of ctx.state.ofType(ctx.account, "radar.early_fraud_warning")) {
    if (warning.body.charge === chargeId && warning.body.actionable === true) {
      warning.body.actionable = false;
      ctx.state.save(warning);
      emitEvent(ctx, "radar.early_fraud_warning.updated", warning.body, { actionable: true });
    }
  }
}

/** Opens a dispute on a succeeded charge (status needs_response) and records its events. */
export function openDispute(ctx: Ctx, charge: StoredObject, reason = "fraudulent"): StoredObject {
  if (charge.body.status !== "succeeded") {
    throw invalidRequest(`Charge ${charge.id} has not succeeded and cannot be disputed.`);
  }
  if (charge.body.disputed === true) {
    throw invalidRequest(`Charge ${charge.id} is already disputed.`);
  }
  const card = (charge.body.payment_method_details as { card: Record<string, unknown> }).card;
  const evidence: Record<string, unknown> = {};
  for (const field of EVIDENCE_FIELDS) {
    evidence[field] = null;
  }
  evidence.enhanced_evidence = {};
  const body: StripeObject = {
    id: newId("dp"),
    object: "dispute",
    amount: Number(charge.body.amount) - Number(charge.body.amount_refunded),
    balance_transactions: [],
    charge: charge.id,
    created: ctx.now,
    currency: charge.body.currency,
    enhanced_eligibility_types: [],
    evidence,
    evidence_details: {
      due_by: ctx.now + EVIDENCE_DAYS * 86_400,
      enhanced_eligibility: {},
      has_evidence: false,
      past_due: false,
      submission_count: 0,
    },
    intended_submission_method: null,
    is_charge_refundable: false,
    livemode: false,
    metadata: {},
    network_reason_code: reason === "fraudulent" ? "10.4" : "13.1",
    payment_intent: charge.body.payment_intent,
    payment_method_details: {
      card: { brand: card.brand, case_type: "chargeback", network_reason_code: "10.4" },
      type: "card",
    },
    reason,
    status: "needs_response",
  };
  const stored = ctx.state.insert(ctx.account, body);
  charge.body.disputed = true;
  ctx.state.save(charge);
  emitEvent(ctx, "charge.dispute.created", body);
  emitEvent(ctx, "charge.dispute.funds_withdrawn", body);
  settleFraudWarnings(ctx, charge.id);
  return stored;
}

/** Closes an open dispute as won or lost. */
export function closeDispute(ctx: Ctx, dispute: StoredObject, outcome: "won" | "lost"): void {
  if (!OPEN_STATUSES.includes(String(dispute.body.status))) {
    throw invalidRequest(
      `This dispute is already closed (status ${String(dispute.body.status)}).`,
      { code: "charge_dispute_closed" },
    );
  }
  const before = clone(dispute.body);
  dispute.body.status = outcome;
  ctx.state.save(dispute);
  emitEvent(ctx, "charge.dispute.closed", dispute.body, previousAttributes(before, dispute.body));
  if (outcome === "won") {
    emitEvent(ctx, "charge.dispute.funds_reinstated", dispute.body);
  }
}

/** Records an early fraud warning on a succeeded charge. */
export function openFraudWarning(
  ctx: Ctx,
  charge: StoredObject,
  fraudType = "made_with_stolen_card",
): StoredObject {
  if (charge.body.status !== "succeeded") {
    throw invalidRequest(`Charge ${charge.id} has not succeeded; no fraud warning applies.`);
  }
  const body: StripeObject = {
    id: newId("issfr"),
    object: "radar.early_fraud_warning",
    actionable: charge.body.disputed !== true && charge.body.refunded !== true,
    charge: charge.id,
    created: ctx.now,
    fraud_type: fraudType,
    livemode: false,
    payment_intent: charge.body.payment_intent,
  };
  const stored = ctx.state.insert(ctx.account, body);
  emitEvent(ctx, "radar.early_fraud_warning.created", body);
  return stored;
}

/** The caller's dispute `id`, or 404 resource_missing. */
export function requireDispute(ctx: Ctx, id: string): StoredObject {
  const stored = ctx.state.findOfType(ctx.account, id, "dispute");
  if (!stored) {
    throw resourceMissing("dispute", id);
  }
  return stored;
}

/** `GET /v1/disputes/:id`. */
export function retrieveDispute(ctx: Ctx, id: string, query: FormObject): StripeObject {
  new Params(query, []);
  return requireDispute(ctx, id).body;
}

/** `POST /v1/disputes/:id` (metadata only). */
export function updateDispute(ctx: Ctx, id: string, form: FormObject): StripeObject {
  const params = new Params(form, ["metadata"]);
  const dispute = requireDispute(ctx, id);
  const before = clone(dispute.body);
  dispute.body.metadata = applyMetadata(
    dispute.body.metadata as Record<string, string>,
    params.raw.metadata,
  );
  ctx.state.save(dispute);
  const previous = previousAttributes(before, dispute.body);
  if (Object.keys(previous).length > 0) {
    emitEvent(ctx, "charge.dispute.updated", dispute.body, previous);
  }
  return dispute.body;
}

/** `POST /v1/disputes/:id/close`: the merchant accepts the dispute, which closes it as lost. */
export function acceptDispute(ctx: Ctx, id: string, form: FormObject): StripeObject {
  new Params(form, []);
  const dispute = requireDispute(ctx, id);
  closeDispute(ctx, dispute, "lost");
  return dispute.body;
}

function byChargeOrIntent(params: Params): (stored: StoredObject) => boolean {
  const charge = params.string("charge");
  const paymentIntent = params.string("payment_intent");
  return (stored) =>
    (!charge || stored.body.charge === charge) &&
    (!paymentIntent || stored.body.payment_intent === paymentIntent);
}

/** `GET /v1/disputes`, by `charge` and/or `payment_intent`. */
export function listDisputes(ctx: Ctx, query: FormObject): unknown {
  const params = new Params(query, [...LIST_PARAMS, "charge", "payment_intent"]);
  const items = ctx.state.ofType(ctx.account, "dispute").filter(byChargeOrIntent(params));
  return listPage(ctx, items, params, "/v1/disputes", "dispute");
}

/** `GET /v1/radar/early_fraud_warnings/:id`. */
export function retrieveFraudWarning(ctx: Ctx, id: string, query: FormObject): StripeObject {
  new Params(query, []);
  const stored = ctx.state.findOfType(ctx.account, id, "radar.early_fraud_warning");
  if (!stored) {
    throw resourceMissing("early fraud warning", id);
  }
  return stored.body;
}

/** `GET /v1/radar/early_fraud_warnings`, by `charge` and/or `payment_intent`. */
export function listFraudWarnings(ctx: Ctx, query: FormObject): unknown {
  const params = new Params(query, [...LIST_PARAMS, "charge", "payment_intent"]);
  const items = ctx.state
    .ofType(ctx.account, "radar.early_fraud_warning")
    .filter(byChargeOrIntent(params));
  return listPage(ctx, items, params, "/v1/radar/early_fraud_warnings", "early fraud warning");
}
