import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "./context.ts";
import { dashboardRoutes } from "./dashboard/routes.tsx";
import { notFoundResponse, problemResponse } from "./middleware/errors.ts";
import { rateLimit } from "./middleware/rate-limit.ts";
import { requestContext } from "./middleware/request-context.ts";
import { createRouter } from "./openapi.ts";
import { apiKeyRoutes } from "./routes/api-keys.ts";
import { auditRoutes } from "./routes/audit.ts";
import { benchRoutes } from "./routes/bench.ts";
import { billingRoutes } from "./routes/billing/index.ts";
import { accountRoutes } from "./routes/catalogue/accounts.ts";
import { meterRoutes } from "./routes/catalogue/meters.ts";
import { planRoutes } from "./routes/catalogue/plans.ts";
import { deadLetterRoutes } from "./routes/dead-letters.ts";
import { driftRoutes } from "./routes/drift.ts";
import { eventRoutes } from "./routes/events.ts";
import { graphqlRoutes } from "./routes/graphql.ts";
import { healthRoutes } from "./routes/health.ts";
import { historyRoutes } from "./routes/history.ts";
import { paymentRoutes } from "./routes/payments.ts";
import { reconciliationRoutes } from "./routes/reconciliation.ts";
import { riskRoutes } from "./routes/risk.ts";
import { riskAdminRoutes } from "./routes/risk-admin.ts";
import { usageRoutes } from "./routes/usage.ts";
import { stripeWebhookRoutes } from "./routes/webhooks-stripe.ts";

/** The HTTP surface: every route of the Worker, mounted on one self-documenting Hono app. */
export function createApp(): OpenAPIHono<AppEnv> {
  const app = createRouter();
  app.use("*", requestContext);
  app.onError((error, c) => problemResponse(c, error));
  app.notFound((c) => notFoundResponse(c));
  // Per-key rate limits by throttle level, before any route does work (lib/fraud/rate-limit.ts).
  app.use("/v1/*", rateLimit);
  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    description: "The admin key, or an account key (mlk_...)",
  });
  app.route("/", healthRoutes);
  app.route("/", eventRoutes);
  app.route("/", usageRoutes);
  app.route("/", historyRoutes);
  app.route("/", deadLetterRoutes);
  app.route("/", driftRoutes);
  app.route("/", apiKeyRoutes);
  app.route("/", meterRoutes);
  app.route("/", planRoutes);
  app.route("/", accountRoutes);
  app.route("/", auditRoutes);
  app.route("/", billingRoutes);
  app.route("/", stripeWebhookRoutes);
  app.route("/", paymentRoutes);
  app.route("/", reconciliationRoutes);
  app.route("/", graphqlRoutes);
  app.route("/", dashboardRoutes);
  app.route("/", riskRoutes);
  app.route("/", riskAdminRoutes);
  app.use("/_bench/*", async (c, next) => {
    if (c.get("config").environment !== "local") {
      return c.notFound();
    }
    await next();
  });
  app.route("/", benchRoutes);
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "meterline",
      version: "1",
      description: "Usage metering, rating, invoicing, payments and fraud control.",
    },
  });
  return app;
}
