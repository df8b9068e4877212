import { createRoute, z } from "@hono/zod-openapi";
import { openDatabase } from "../../lib/adapters/postgres.ts";
import { AppError } from "../../lib/errors/index.ts";
import { type DeadLetter, listDeadLetters, readDeadLetter } from "../../lib/ledger/dead-letters.ts";
import { replayDeadLetters } from "../../lib/pipeline/replay.ts";
import { authenticate } from "../middleware/auth.ts";
import { possibleIdsOnly } from "../middleware/path-ids.ts";
import { BEARER, createRouter, problemResponses } from "../openapi.ts";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

const DeadLetterSchema = z
  .object({
    id: z.string(),
    messageId: z.string(),
    queue: z.string(),
    reason: z.enum(["invalid_body", "retries_exhausted"]),
    batchId: z.string().nullable(),
    accountId: z.string().nullable(),
    errorCode: z.string(),
    error: z.string(),
    attempts: z.number().int().nullable(),
    lastFailedAt: z.string().nullable(),
    deadAt: z.string(),
    replayedAt: z.string().nullable(),
    replays: z.number().int(),
    body: z.string().openapi({ description: "The message body as JSON text (what replay sends)" }),
  })
  .openapi("DeadLetter");

function view(letter: DeadLetter) {
  return {
    id: letter.id,
    messageId: letter.messageId,
    queue: letter.queue,
    reason: letter.reason,
    batchId: letter.batchId,
    accountId: letter.accountId,
    errorCode: letter.errorCode,
    error: letter.error,
    attempts: letter.attempts,
    lastFailedAt: iso(letter.lastFailedAtMs),
    deadAt: iso(letter.deadAtMs) as string,
    replayedAt: iso(letter.replayedAtMs),
    replays: letter.replays,
    body: letter.body,
  };
}

const ReplayedSchema = z.object({ replayed: z.array(z.string()) }).openapi("Replayed");

/** Admin endpoints over the rated-usage dead letters: list, read, replay one or all. */
export const deadLetterRoutes = createRouter();
deadLetterRoutes.use("/v1/admin/dead-letters", authenticate({ adminOnly: true }));
deadLetterRoutes.use("/v1/admin/dead-letters/*", authenticate({ adminOnly: true }));
deadLetterRoutes.use("/v1/admin/dead-letters/:id/*", possibleIdsOnly);

deadLetterRoutes.openapi(
  createRoute({
    method: "get",
    path: "/v1/admin/dead-letters",
    summary: "List dead letters, oldest first",
    security: BEARER,
    request: {
      query: z.object({
        status: z.enum(["pending", "replayed", "all"]).default("pending"),
        account: z.string().max(64).optional(),
        limit: z.coerce.number().int().min(1).max(500).default(100),
        after: z.string().max(64).optional().openapi({ description: "Cursor: the last id seen" }),
      }),
    },
    responses: {
      200: {
        description: "Dead letters",
        content: {
          "application/json": {
            schema: z.object({
              deadLetters: z.array(DeadLetterSchema),
              next: z.string().nullable(),
            }),
          },
        },
      },
      ...problemResponses(400, 401, 403, 503),
    },
  }),
  async (c) => {
    const query = c.req.valid("query");
    const db = openDatabase(c.get("config").database, { max: 1 });
    try {
      const letters = await listDeadLetters(db, {
        status: query.status,
        limit: query.limit,
        ...(query.after ? { after: query.after } : {}),
        ...(query.account ? { accountId: query.account } : {}),
      });
      const next = letters.length === query.limit ? (letters.at(-1)?.id ?? null) : null;
      return c.json({ deadLetters: letters.map(view), next }, 200);
    } finally {
      c.executionCtx.waitUntil(db.end());
    }
  },
);

deadLetterRoutes.openapi(
  createRoute({
    method: "get",
    path: "/v1/admin/dead-letters/{id}",
    summary: "Read one dead letter",
    security: BEARER,
    request: { params: z.object({ id: z.string() }) },
    responses: {
      200: {
        description: "Dead letter",
        content: { "application/json": { schema: DeadLetterSchema } },
      },
      ...problemResponses(401, 403, 404, 503),
    },
  }),
  async (c) => {
    const db = openDatabase(c.get("config").database, { max: 1 });
    try {
      const letter = await readDeadLetter(db, c.req.valid("param").id);
      if (!letter) {
        throw new AppError("NOT_FOUND", "No such dead letter");
      }
      return c.json(view(letter), 200);
    } finally {
      c.executionCtx.waitUntil(db.end());
    }
  },
);

deadLetterRoutes.openapi(
  createRoute({
    method: "post",
    path: "/v1/admin/dead-letters/{id}/replay",
    summary: "Replay one dead letter",
    description:
      "Sends the stored body to the rated-usage queue again and marks the letter replayed. The " +
      "sinks are idempotent by batch id, so replaying a batch that already landed changes nothing.",
    security: BEARER,
    request: { params: z.object({ id: z.string() }) },
    responses: {
      200: { description: "Replayed", content: { "application/json": { schema: ReplayedSchema } } },
      ...problemResponses(401, 403, 404, 503),
    },
  }),
  async (c) => {
    const db = openDatabase(c.get("config").database, { max: 1 });
    try {
      const letter = await readDeadLetter(db, c.req.valid("param").id);
      if (!letter) {
        throw new AppError("NOT_FOUND", "No such dead letter");
      }
      const replayed = await replayDeadLetters(db, c.env.RATED_USAGE, [letter], c.get("clock"));
      c.get("log").info("dead letters replayed", { ids: replayed });
      return c.json({ replayed }, 200);
    } finally {
      c.executionCtx.waitUntil(db.end());
    }
  },
);

deadLetterRoutes.openapi(
  createRoute({
    method: "post",
    path: "/v1/admin/dead-letters/replay",
    summary: "Replay pending dead letters",
    description:
      "Replays dead letters not replayed yet, oldest first, up to `limit` per call (call again " +
      "until `replayed` is empty). Optionally only one account's.",
    security: BEARER,
    request: {
      query: z.object({
        account: z.string().max(64).optional(),
        limit: z.coerce.number().int().min(1).max(500).default(100),
      }),
    },
    responses: {
      200: { description: "Replayed", content: { "application/json": { schema: ReplayedSchema } } },
      ...problemResponses(400, 401, 403, 503),
    },
  }),
  async (c) => {
    const query = c.req.valid("query");
    const db = openDatabase(c.get("config").database, { max: 1 });
    try {
      const letters = await listDeadLetters(db, {
        status: "pending",
        limit: query.limit,
        ...(query.account ? { accountId: query.account } : {}),
      });
      const replayed = await replayDeadLetters(db, c.env.RATED_USAGE, letters, c.get("clock"));
      c.get("log").info("dead letters replayed", { count: replayed.length });
      return c.json({ replayed }, 200);
    } finally {
      c.executionCtx.waitUntil(db.end());
    }
  },
);
