import { createRoute, z } from "@hono/zod-openapi";
import { openDatabase } from "../../lib/adapters/postgres.ts";
import { listAudit, verifyAuditChain } from "../../lib/audit/audit-log.ts";
import { authenticate } from "../middleware/auth.ts";
import { possibleIdsOnly } from "../middleware/path-ids.ts";
import { BEARER, createRouter, problemResponses } from "../openapi.ts";

const RecordSchema = z
  .object({
    id: z.string(),
    accountId: z.string(),
    seq: z.number().int(),
    occurredAt: z.string(),
    actor: z.string(),
    action: z.string(),
    subjectType: z.string(),
    subjectId: z.string(),
    reason: z.string(),
    before: z.unknown(),
    after: z.unknown(),
    amountMinor: z.string().nullable(),
    currency: z.string().nullable(),
    prevHash: z.string(),
    hash: z.string(),
  })
  .openapi("AuditRecord");

/** Admin endpoints to read an account's audit trail and verify its hash chain. */
export const auditRoutes = createRouter();
auditRoutes.use(
  "/v1/accounts/:accountId/audit",
  authenticate({ adminOnly: true }),
  possibleIdsOnly,
);
auditRoutes.use(
  "/v1/accounts/:accountId/audit/*",
  authenticate({ adminOnly: true }),
  possibleIdsOnly,
);

auditRoutes.openapi(
  createRoute({
    method: "get",
    path: "/v1/accounts/{accountId}/audit",
    summary: "An account's audit records, newest first",
    security: BEARER,
    request: {
      params: z.object({ accountId: z.string() }),
      query: z.object({
        limit: z.coerce.number().int().min(1).max(200).default(50),
        before: z.coerce
          .number()
          .int()
          .min(1)
          .optional()
          .openapi({ description: "Records with seq below this" }),
        action: z.string().optional(),
      }),
    },
    responses: {
      200: {
        description: "Records",
        content: {
          "application/json": {
            schema: z.object({
              data: z.array(RecordSchema),
              nextBefore: z.number().int().nullable(),
            }),
          },
        },
      },
      ...problemResponses(401, 403, 422, 503),
    },
  }),
  async (c) => {
    const { accountId } = c.req.valid("param");
    const query = c.req.valid("query");
    const db = openDatabase(c.get("config").database, { max: 1 });
    try {
      const data = await listAudit(db, accountId, {
        limit: query.limit,
        ...(query.before !== undefined ? { beforeSeq: query.before } : {}),
        ...(query.action !== undefined ? { action: query.action } : {}),
      });
      const last = data[data.length - 1];
      return c.json(
        { data, nextBefore: data.length === query.limit && last ? last.seq : null },
        200,
      );
    } finally {
      c.executionCtx.waitUntil(db.end());
    }
  },
);

auditRoutes.openapi(
  createRoute({
    method: "get",
    path: "/v1/accounts/{accountId}/audit/verify",
    summary: "Re-hash the account's audit chain and report any edit or deletion",
    security: BEARER,
    request: { params: z.object({ accountId: z.string() }) },
    responses: {
      200: {
        description: "Verification",
        content: {
          "application/json": {
            schema: z.object({
              accountId: z.string(),
              ok: z.boolean(),
              records: z.number().int(),
              headSeq: z.number().int(),
              problems: z.array(z.object({ seq: z.number().int(), problem: z.string() })),
            }),
          },
        },
      },
      ...problemResponses(401, 403, 503),
    },
  }),
  async (c) => {
    const { accountId } = c.req.valid("param");
    const db = openDatabase(c.get("config").database, { max: 1 });
    try {
      return c.json(await verifyAuditChain(db, accountId), 200);
    } finally {
      c.executionCtx.waitUntil(db.end());
    }
  },
);
