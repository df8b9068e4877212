import { createRouter } from "../../openapi.ts";
import { creditRoutes } from "./credits.ts";
import { invoiceRoutes } from "./invoices.ts";
import { runRoutes } from "./runs.ts";
import { statusRoutes } from "./status.ts";

/** Billing's HTTP surface: invoices, credit, account status and tax rates, invoice runs. */
export const billingRoutes = createRouter();
billingRoutes.route("/", invoiceRoutes);
billingRoutes.route("/", creditRoutes);
billingRoutes.route("/", statusRoutes);
billingRoutes.route("/", runRoutes);
