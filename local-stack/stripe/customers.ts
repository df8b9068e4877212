/**
 * Customers: create (optionally attaching a PaymentMethod), retrieve (a deleted one as its
 * stub), update (including `invoice_settings[default_payment_method]`), delete, list, search.
 */
import type { Ctx } from "./context.ts";
import { emitEvent, previousAttributes } from "./events.ts";
import { badRequest, invalidRequest, resourceMissing } from "./failure.ts";
import type { FormObject } from "./form.ts";
import { newId, randomToken } from "./ids.ts";
import { LIST_PARAMS, listPage, SEARCH_PARAMS, searchPage } from "./lists.ts";
import { applyMetadata, Params } from "./params.ts";
import { assertAttachable, attach, usePaymentMethod } from "./payment-methods.ts";
import { compileQuery, type SearchFields } from "./search.ts";
import { isEmail, readAddress } from "./shapes.ts";
import { clone, type StoredObject, type StripeObject } from "./state.ts";

const WRITABLE = [
  "address",
  "description",
  "email",
  "invoice_settings",
  "metadata",
  "name",
  "phone",
  "preferred_locales",
  "shipping",
  "tax_exempt",
];

const SEARCH_FIELDS: SearchFields = {
  created: { kind: "number", read: (body) => body.created },
  email: { kind: "string", substring: true, read: (body) => body.email },
  name: { kind: "string", substring: true, read: (body) => body.name },
  phone: { kind: "string", substring: true, read: (body) => body.phone },
};

/** The caller's customer `id`; deleted customers count as missing. */
export function requireCustomer(ctx: Ctx, id: string, param = "id"): StoredObject {
  const stored = ctx.state.findOfType(ctx.account, id, "customer");
  if (!stored || stored.hidden.deleted) {
    throw resourceMissing("customer", id, param);
  }
  return stored;
}

/** Applies the writable fields in `params` to `body` (create and update share this). */
function applyFields(params: Params, body: StripeObject): string | null | undefined {
  const email = params.string("email", { maxLength: 512 });
  if (email) {
    if (!isEmail(email)) {
      throw badRequest(`Invalid email address: ${email}`, "email", "email_invalid");
    }
  }
  for (const field of ["description", "name", "phone"] as const) {
    const value = params.string(field);
    if (value !== undefined) {
      body[field] = value;
    }
  }
  if (email !== undefined) {
    body.email = email;
  }
  const address = readAddress(params, "address");
  if (address !== undefined) {
    body.address = address;
  }
  const shipping = params.hash("shipping", ["address", "name", "phone"]);
  if (shipping !== undefined) {
    body.shipping =
      shipping === null
        ? null
        : {
            address: readAddress(shipping, "address") ?? null,
            name: shipping.requiredString("name"),
            phone: shipping.string("phone") ?? null,
          };
  }
  const locales = params.list("preferred_locales");
  if (locales !== undefined) {
    body.preferred_locales = locales;
  }
  const taxExempt = params.enumOf("tax_exempt", ["exempt", "none", "reverse"]);
  if (taxExempt) {
    body.tax_exempt = taxExempt;
  }
  body.metadata = applyMetadata(body.metadata as Record<string, string>, params.raw.metadata);
  const settings = params.hash("invoice_settings", [
    "default_payment_method",
    "footer",
    "custom_fields",
    "rendering_options",
  ]);
  const invoiceSettings = body.invoice_settings as Record<string, unknown>;
  if (settings) {
    const footer = settings.string("footer");
    if (footer !== undefined) {
      invoiceSettings.footer = footer;
    }
    return settings.string("default_payment_method");
  }
  return undefined;
}

/** Sets the default PaymentMethod, which must already be attached to this customer. */
function setDefault(ctx: Ctx, body: StripeObject, pmId: string | null): void {
  const settings = body.invoice_settings as Record<string, unknown>;
  if (pmId !== null) {
    const pm = ctx.state.findOfType(ctx.account, pmId, "payment_method");
    if (!pm || pm.body.customer !== body.id) {
      throw invalidRequest(
        `The customer does not have a payment method with the ID ${pmId}. The payment method ` +
          "must be attached to the customer.",
        { code: "resource_missing", param: "invoice_settings[default_payment_method]" },
      );
    }
  }
  settings.default_payment_method = pmId;
}

/** `POST /v1/customers`; attaches `payment_method` (checking the card first) after creating. */
export function createCustomer(ctx: Ctx, form: FormObject): StripeObject {
  const params = new Params(form, [...WRITABLE, "payment_method"]);
  const body: StripeObject = {
    id: newId("cus"),
    object: "customer",
    address: null,
    balance: 0,
    created: ctx.now,
    currency: null,
    customer_account: null,
    default_source: null,
    delinquent: false,
    description: null,
    discount: null,
    email: null,
    invoice_prefix: randomToken(8).toUpperCase(),
    invoice_settings: {
      custom_fields: null,
      default_payment_method: null,
      footer: null,
      rendering_options: null,
    },
    livemode: false,
    metadata: {},
    name: null,
    next_invoice_sequence: 1,
    phone: null,
    preferred_locales: [],
    shipping: null,
    tax_exempt: "none",
    test_clock: null,
  };
  const wantedDefault = applyFields(params, body);
  const pmParam = params.string("payment_method");
  const pm = pmParam ? usePaymentMethod(ctx, pmParam, "payment_method") : undefined;
  if (pm) {
    assertAttachable(pm, body.id);
  }
  // A shortcut id given as both `payment_method` and the default means the new PaymentMethod.
  const defaultId = pm && wantedDefault === pmParam ? pm.id : (wantedDefault ?? null);
  if (defaultId !== null && defaultId !== pm?.id) {
    // Nothing else can be attached to a customer that does not exist yet: this throws.
    setDefault(ctx, body, defaultId);
  }
  (body.invoice_settings as Record<string, unknown>).default_payment_method = defaultId;
  ctx.state.insert(ctx.account, body);
  emitEvent(ctx, "customer.created", body);
  if (pm) {
    attach(ctx, pm, body.id);
  }
  return body;
}

/** `GET /v1/customers/:id`; a deleted customer answers as its `{deleted: true}` stub. */
export function retrieveCustomer(ctx: Ctx, id: string): StripeObject {
  const stored = ctx.state.findOfType(ctx.account, id, "customer");
  if (!stored) {
    throw resourceMissing("customer", id);
  }
  if (stored.hidden.deleted) {
    return { id, object: "customer", deleted: true };
  }
  return stored.body;
}

/** `POST /v1/customers/:id`; records customer.updated with what changed. */
export function updateCustomer(ctx: Ctx, id: string, form: FormObject): StripeObject {
  const params = new Params(form, WRITABLE);
  const stored = requireCustomer(ctx, id);
  const before = clone(stored.body);
  const draft = clone(stored.body);
  const wantedDefault = applyFields(params, draft);
  if (wantedDefault !== undefined) {
    setDefault(ctx, draft, wantedDefault);
  }
  stored.body = draft;
  ctx.state.save(stored);
  const previous = previousAttributes(before, draft);
  if (Object.keys(previous).length > 0) {
    emitEvent(ctx, "customer.updated", draft, previous);
  }
  return draft;
}

/** `DELETE /v1/customers/:id`; the customer stays retrievable as a stub. */
export function deleteCustomer(ctx: Ctx, id: string, query: FormObject): StripeObject {
  new Params(query, []);
  const stored = requireCustomer(ctx, id);
  stored.hidden.deleted = true;
  ctx.state.save(stored);
  emitEvent(ctx, "customer.deleted", stored.body);
  return { id, object: "customer", deleted: true };
}

/** `GET /v1/customers`, optionally by exact `email`. */
export function listCustomers(ctx: Ctx, query: FormObject): unknown {
  const params = new Params(query, [...LIST_PARAMS, "email", "test_clock"]);
  const email = params.string("email");
  const items = ctx.state
    .ofType(ctx.account, "customer")
    .filter((stored) => !email || stored.body.email === email);
  return listPage(ctx, items, params, "/v1/customers", "customer");
}

/** `GET /v1/customers/search`. */
export function searchCustomers(ctx: Ctx, query: FormObject): unknown {
  const params = new Params(query, SEARCH_PARAMS);
  const matches = compileQuery(params.requiredString("query"), SEARCH_FIELDS, "customers");
  const items = ctx.state.ofType(ctx.account, "customer").filter((stored) => matches(stored.body));
  return searchPage(items, params, "/v1/customers/search");
}
