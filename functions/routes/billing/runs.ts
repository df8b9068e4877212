import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { openQStashReceiver } from "../../../lib/adapters/qstash.ts";
import {
  type BillingHourResult,
  parseRunRequest,
  runBillingHour,
} from "../../../lib/billing/billing-hour.ts";
import type { RunTrigger } from "../../../lib/billing/invoice-run.ts";
import { qstashPublisher } from "../../../lib/billing/notify.ts";
import { AppError } from "../../../lib/errors/index.ts";
import type { AppEnv } from "../../context.ts";
import { authenticate } from "../../middleware/auth.ts";
import { BEARER, createRouter, problemResponses } from "../../openapi.ts";
import { runDeps, withDatabase } from "./support.ts";

const json = <T extends z.ZodType>(schema: T) => ({ "application/json": { schema } });

const RunRequestSchema = z
  .object({
    at: z.string().optional().openapi({
      description: "Close periods that ended (plus grace) by this instant; default now",
    }),
    accounts: z.array(z.string()).optional().openapi({ description: "Only these accounts" }),
    graceSeconds: z.number().int().optional(),
  })
  .openapi("InvoiceRunRequest");

const RunResultSchema = z
  .object({
    runId: z.string(),
    asOf: z.string(),
    initialized: z.number().int().openapi({ description: "Accounts seen for the first time" }),
    enqueued: z.number().int().openapi({ description: "Invoice jobs enqueued" }),
    overdue: z
      .object({
        notified: z.number().int(),
        withoutDestination: z.number().int(),
        failed: z.number().int(),
      })
      .nullable(),
  })
  .openapi("InvoiceRun");

function resultView(result: BillingHourResult) {
  return {
    runId: result.runId,
    asOf: new Date(result.asOfMs).toISOString(),
    initialized: result.initialized,
    enqueued: result.enqueued,
    overdue: result.overdue,
  };
}

async function run(c: Context<AppEnv>, trigger: RunTrigger, body: unknown) {
  const config = c.get("config");
  const clock = c.get("clock");
  const request = parseRunRequest(body, {
    nowMs: clock.nowMs(),
    graceSeconds: config.invoiceGraceSeconds,
  });
  const result = await withDatabase(c, (db) =>
    runBillingHour(
      { ...runDeps(c.env, db, clock, c.get("log")), db, publisher: qstashPublisher(config.qstash) },
      { ...request, trigger },
    ),
  );
  return c.json(resultView(result), 200);
}

/** Invoice runs: the admin trigger and the signed QStash schedule endpoint. */
export const runRoutes = createRouter();
runRoutes.use("/v1/admin/invoice-runs", authenticate({ adminOnly: true }));

runRoutes.openapi(
  createRoute({
    method: "post",
    path: "/v1/admin/invoice-runs",
    summary: "Run invoicing now, or as of an earlier instant",
    description:
      "Enqueues one job per account whose next period ended (plus the grace) by `at`. Safe to " +
      "repeat: jobs are idempotent and accounts enqueued in the last 30 minutes are skipped.",
    security: BEARER,
    request: { body: { required: false, content: json(RunRequestSchema) } },
    responses: {
      200: { description: "The run", content: json(RunResultSchema) },
      ...problemResponses(400, 401, 403, 422, 503),
    },
  }),
  async (c) => run(c, "admin", await c.req.json().catch(() => ({}))),
);

runRoutes.openapi(
  createRoute({
    method: "post",
    path: "/v1/schedules/invoice-run",
    summary: "The hourly run, triggered by a QStash schedule",
    description:
      "For deployments without Cloudflare cron. Authenticated by `Upstash-Signature`, verified " +
      "over the raw body with the current signing key, then the next one (key rotation). The " +
      "body is optional and takes the admin run's fields.",
    // The body (RunRequestSchema, optional) is read raw: the signature covers its exact bytes,
    // and it is checked before anything looks at the body.
    request: { headers: z.object({ "upstash-signature": z.string().optional() }) },
    responses: {
      200: { description: "The run", content: json(RunResultSchema) },
      ...problemResponses(401, 422, 503),
    },
  }),
  async (c) => {
    const signature = c.req.header("upstash-signature");
    const raw = await c.req.text();
    const config = c.get("config");
    const url = config.publicBaseUrl
      ? new URL(c.req.path, config.publicBaseUrl).toString()
      : c.req.url;
    const valid =
      signature !== undefined &&
      (await openQStashReceiver(config.qstash)
        .verify({ signature, body: raw, url })
        .catch(() => false));
    if (!valid) {
      throw new AppError("UNAUTHENTICATED", "Invalid QStash signature", {
        detail: "Upstash-Signature is missing or does not match the body with either signing key.",
      });
    }
    let body: unknown = {};
    if (raw.trim() !== "") {
      try {
        body = JSON.parse(raw);
      } catch {
        throw new AppError("MALFORMED_BODY", "The body is not valid JSON");
      }
    }
    return run(c, "schedule", body);
  },
);
