import { createRoute, z } from "@hono/zod-openapi";
import { openDatabase } from "../../lib/adapters/postgres.ts";
import { AppError } from "../../lib/errors/index.ts";
import { parseRfc3339 } from "../../lib/ingest/time.ts";
import {
  type ReconciliationReport,
  reconcilePayments,
  reconciliationRun,
} from "../../lib/payments/reconcile.ts";
import { authenticate } from "../middleware/auth.ts";
import { possibleIdsOnly } from "../middleware/path-ids.ts";
import { BEARER, createRouter, problemResponses } from "../openapi.ts";
import { paymentDepsForEnv } from "./payments.ts";

/** The longest window one request may reconcile (the cron does one day at a time). */
const MAX_WINDOW_MS = 31 * 86_400_000;

const FindingSchema = z.object({
  kind: z.string(),
  invoiceId: z.string().nullable(),
  attemptId: z.string().nullable(),
  stripeId: z.string().nullable(),
  detail: z.string(),
  ours: z.string().nullable().optional(),
  stripe: z.string().nullable().optional(),
});

const ReportSchema = z
  .object({
    id: z.string(),
    trigger: z.enum(["cron", "admin"]),
    from: z.string(),
    to: z.string(),
    accountId: z.string().nullable(),
    startedAt: z.string(),
    finishedAt: z.string(),
    checked: z.object({
      paymentIntents: z.number().int(),
      attempts: z.number().int(),
      refunds: z.number().int(),
    }),
    mismatchCount: z.number().int(),
    repairCount: z.number().int(),
    mismatches: z.array(FindingSchema),
    repairs: z.array(FindingSchema),
    skipped: z.array(FindingSchema),
  })
  .openapi("ReconciliationReport");

/** The report as the API shows it: ISO times and counts up front. */
export function reportView(report: ReconciliationReport): z.infer<typeof ReportSchema> {
  return {
    id: report.id,
    trigger: report.trigger,
    from: new Date(report.fromMs).toISOString(),
    to: new Date(report.toMs).toISOString(),
    accountId: report.accountId,
    startedAt: new Date(report.startedAtMs).toISOString(),
    finishedAt: new Date(report.finishedAtMs).toISOString(),
    checked: report.checked,
    mismatchCount: report.mismatches.length,
    repairCount: report.repairs.length,
    mismatches: report.mismatches,
    repairs: report.repairs,
    skipped: report.skipped,
  };
}

function instant(value: string, field: string): number {
  const ms = parseRfc3339(value);
  if (ms === null) {
    throw new AppError("VALIDATION_FAILED", `${field} is not an RFC 3339 instant`, {
      detail: `${field}: give an instant such as 2026-12-01T00:00:00Z.`,
      fieldErrors: [{ field: `/${field}`, code: "invalid_instant", detail: "an RFC 3339 instant" }],
    });
  }
  return ms;
}

/** `POST /v1/admin/reconciliation` for any window; `GET` a stored run. */
export const reconciliationRoutes = createRouter();
reconciliationRoutes.use("/v1/admin/reconciliation", authenticate({ adminOnly: true }));
reconciliationRoutes.use("/v1/admin/reconciliation/*", authenticate({ adminOnly: true }));
reconciliationRoutes.use("/v1/admin/reconciliation/:runId", possibleIdsOnly);

reconciliationRoutes.openapi(
  createRoute({
    method: "post",
    path: "/v1/admin/reconciliation",
    summary: "Reconcile Stripe with meterline for a window",
    description:
      "Compares Stripe's PaymentIntents and refunds created in [from, to) with meterline's " +
      "payment attempts, refunds and invoices. Repairs what is safe (adopts a charge without a " +
      "record, closes an attempt Stripe never saw, advances states, records missed refunds) and " +
      "reports the rest (amount or currency mismatches, second charges). The report is stored.",
    security: BEARER,
    request: {
      body: {
        required: true,
        content: {
          "application/json": {
            schema: z.object({
              from: z.string(),
              to: z.string(),
              accountId: z.string().min(1).max(200).optional(),
            }),
          },
        },
      },
    },
    responses: {
      200: {
        description: "The run's report",
        content: { "application/json": { schema: ReportSchema } },
      },
      ...problemResponses(400, 401, 403, 422, 503),
    },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const fromMs = instant(body.from, "from");
    const toMs = instant(body.to, "to");
    if (!(toMs > fromMs) || toMs - fromMs > MAX_WINDOW_MS) {
      throw new AppError("VALIDATION_FAILED", "The window is invalid", {
        detail: "`to` must be after `from`, and the window at most 31 days long.",
        fieldErrors: [{ field: "/to", code: "invalid_window", detail: "after from, ≤ 31 days" }],
      });
    }
    const deps = paymentDepsForEnv(c.env, {
      clock: c.get("clock"),
      ids: c.get("ids"),
      log: c.get("log"),
    });
    try {
      const report = await reconcilePayments(deps, {
        fromMs,
        toMs,
        accountId: body.accountId ?? null,
        trigger: "admin",
      });
      return c.json(reportView(report), 200);
    } finally {
      c.executionCtx.waitUntil(deps.close());
    }
  },
);

reconciliationRoutes.openapi(
  createRoute({
    method: "get",
    path: "/v1/admin/reconciliation/{runId}",
    summary: "A stored reconciliation report",
    security: BEARER,
    request: { params: z.object({ runId: z.string().min(1).max(100) }) },
    responses: {
      200: { description: "The report", content: { "application/json": { schema: ReportSchema } } },
      ...problemResponses(401, 403, 404, 503),
    },
  }),
  async (c) => {
    const { runId } = c.req.valid("param");
    const db = openDatabase(c.get("config").database, { max: 1 });
    try {
      const report = await reconciliationRun(db, runId);
      if (!report) {
        throw new AppError("NOT_FOUND", `No reconciliation run ${runId}`);
      }
      return c.json(reportView(report), 200);
    } finally {
      c.executionCtx.waitUntil(db.end());
    }
  },
);
