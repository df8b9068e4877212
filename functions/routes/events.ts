import { z } from "@hono/zod-openapi";
import { AppError } from "../../lib/errors/index.ts";
import { decodeEvents, readBodyText } from "../../lib/ingest/decode.ts";
import { dispatchEvents, type MeterGateway } from "../../lib/ingest/dispatch.ts";
import { INGEST_LIMITS } from "../../lib/ingest/limits.ts";
import { EVENT_REJECTION_CODES } from "../../lib/ingest/rejections.ts";
import { meterFor } from "../meters.ts";
import { authenticate } from "../middleware/auth.ts";
import { BEARER, createRouter, problemResponses } from "../openapi.ts";
import { sendHandedOver } from "../outbox-sender.ts";

const EventSchema = z
  .object({
    id: z
      .string()
      .max(INGEST_LIMITS.maxIdLength)
      .openapi({ description: "Unique per account; retries reuse it" }),
    account: z.string().optional().openapi({ description: "Required with the admin key" }),
    meter: z.string(),
    value: z
      .union([z.string(), z.number()])
      .optional()
      .openapi({ description: "Decimal; strings keep full precision" }),
    time: z
      .string()
      .optional()
      .openapi({ description: "RFC 3339 with zone; default: arrival time" }),
    properties: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  })
  .openapi("UsageEvent");

const SummarySchema = z
  .object({
    accepted: z.number().int(),
    duplicates: z.number().int(),
    rejected: z.array(
      z.object({
        index: z.number().int(),
        id: z.string().nullable(),
        code: z.enum(Object.keys(EVENT_REJECTION_CODES) as [string, ...string[]]),
        detail: z.string(),
      }),
    ),
  })
  .openapi("IngestSummary");

const LIMITS_TEXT =
  `Limits: ${INGEST_LIMITS.maxEventsPerRequest} events and ${INGEST_LIMITS.maxBodyBytes} bytes ` +
  `(after gzip decompression) per request, ${INGEST_LIMITS.maxAccountsPerRequest} accounts per ` +
  `request, ids up to ${INGEST_LIMITS.maxIdLength} characters, ${INGEST_LIMITS.maxProperties} ` +
  `properties of up to ${INGEST_LIMITS.maxPropertyValueLength} characters (${INGEST_LIMITS.maxPropertiesBytes} ` +
  "bytes in all), values within the signed 64-bit range with up to 12 fractional digits.";

/** `POST /v1/events`: usage in, counted exactly once per (account, event id). */
export const eventRoutes = createRouter();

eventRoutes.openAPIRegistry.registerPath({
  method: "post",
  path: "/v1/events",
  summary: "Send usage events",
  description:
    "One event, a JSON array, NDJSON, or CloudEvents (structured or batched). Optional " +
    `Content-Encoding: gzip. Each event is counted once per id. ${LIMITS_TEXT}`,
  security: BEARER,
  request: {
    body: {
      content: {
        "application/json": { schema: z.union([EventSchema, z.array(EventSchema)]) },
        "application/x-ndjson": { schema: z.string() },
        "application/cloudevents+json": { schema: z.object({}).passthrough() },
        "application/cloudevents-batch+json": { schema: z.array(z.object({}).passthrough()) },
      },
    },
  },
  responses: {
    202: {
      description: "Per-event outcome",
      content: { "application/json": { schema: SummarySchema } },
    },
    ...problemResponses(400, 401, 413, 415, 429, 503),
  },
});

eventRoutes.post("/v1/events", authenticate({ meterVerifies: true }), async (c) => {
  const principal = c.get("principal");
  const contentLength = Number(c.req.header("content-length") ?? "0");
  if (contentLength > INGEST_LIMITS.maxWireBytes) {
    throw new AppError("PAYLOAD_TOO_LARGE", `Body of ${contentLength} bytes`, {
      detail: `Send at most ${INGEST_LIMITS.maxWireBytes} bytes per request; split larger batches.`,
    });
  }
  const contentType = c.req.header("content-type") ?? null;
  const text = await readBodyText(
    c.req.raw.body,
    c.req.header("content-encoding") ?? null,
    contentType,
    c.req.header("content-length") ? contentLength : null,
  );
  const decoded = decodeEvents(contentType, text);
  const gateway: MeterGateway = {
    ingest: (accountId, events, keyHash) =>
      meterFor(c.env, accountId).ingest({
        accountId,
        eventsJson: JSON.stringify(events),
        keyHash,
        handOff: true,
      }),
    authenticate: (accountId, keyHash) =>
      meterFor(c.env, accountId).authenticate(accountId, keyHash),
    // The answer does not wait for the queue: the meters keep every message until it lands.
    send: (handedOver) => c.executionCtx.waitUntil(sendHandedOver(c.env, handedOver, c.get("log"))),
  };
  const sender =
    principal.kind === "admin"
      ? ({ kind: "admin" } as const)
      : { kind: "account" as const, accountId: principal.accountId };
  const keyHash = principal.kind === "account" ? principal.keyHash : null;
  const summary = await dispatchEvents(decoded, sender, keyHash, c.get("clock").nowMs(), gateway);
  c.get("log").info("events ingested", {
    accepted: summary.accepted,
    duplicates: summary.duplicates,
    rejected: summary.rejected.length,
  });
  return c.json(summary, 202);
});
