import { createRoute, z } from "@hono/zod-openapi";
import { openDatabase } from "../../lib/adapters/postgres.ts";
import { mintApiKey } from "../../lib/auth/api-keys.ts";
import {
  assertAccountExists,
  listApiKeys,
  markApiKeyRevoked,
  recordApiKey,
} from "../../lib/auth/key-store.ts";
import { meterFor } from "../meters.ts";
import { authenticate } from "../middleware/auth.ts";
import { possibleIdsOnly } from "../middleware/path-ids.ts";
import { BEARER, createRouter, plainText, problemResponses } from "../openapi.ts";

const KeySchema = z
  .object({
    id: z.string(),
    accountId: z.string(),
    name: z.string(),
    prefix: z.string(),
    createdAt: z.string(),
    revokedAt: z.string().nullable(),
  })
  .openapi("ApiKey");

const CreatedKeySchema = KeySchema.extend({
  key: z.string().openapi({ description: "The key itself. Shown once: store it now." }),
}).openapi("CreatedApiKey");

const AccountParam = z.object({ accountId: z.string() });

/** Admin endpoints to create, list and revoke account API keys. */
export const apiKeyRoutes = createRouter();
apiKeyRoutes.use(
  "/v1/accounts/:accountId/api-keys",
  authenticate({ adminOnly: true }),
  possibleIdsOnly,
);
apiKeyRoutes.use("/v1/accounts/:accountId/api-keys/*", authenticate({ adminOnly: true }));
apiKeyRoutes.use("/v1/accounts/:accountId/api-keys/:keyId", possibleIdsOnly);

apiKeyRoutes.openapi(
  createRoute({
    method: "post",
    path: "/v1/accounts/{accountId}/api-keys",
    summary: "Create an account API key (shown once)",
    security: BEARER,
    request: {
      params: AccountParam,
      body: {
        required: false,
        content: {
          "application/json": { schema: z.object({ name: plainText().max(100).default("") }) },
        },
      },
    },
    responses: {
      201: {
        description: "Created",
        content: { "application/json": { schema: CreatedKeySchema } },
      },
      ...problemResponses(401, 403, 404, 422, 503),
    },
  }),
  async (c) => {
    const { accountId } = c.req.valid("param");
    const name = ((await c.req.json().catch(() => ({}))) as { name?: unknown }).name;
    const db = openDatabase(c.get("config").database, { max: 1 });
    try {
      await assertAccountExists(db, accountId);
      const minted = await mintApiKey(accountId);
      const keyId = c.get("ids").next("apiKey");
      // The meter learns the key first: a key recorded in Postgres but unknown to the meter
      // would be shown to the caller and then refused.
      await meterFor(c.env, accountId).addApiKey(accountId, keyId, minted.hash);
      const info = await recordApiKey(db, {
        id: keyId,
        accountId,
        name: typeof name === "string" ? name.slice(0, 100) : "",
        prefix: minted.prefix,
        hash: minted.hash,
        createdAtMs: c.get("clock").nowMs(),
      });
      return c.json({ ...info, key: minted.secret }, 201);
    } finally {
      c.executionCtx.waitUntil(db.end());
    }
  },
);

apiKeyRoutes.openapi(
  createRoute({
    method: "get",
    path: "/v1/accounts/{accountId}/api-keys",
    summary: "List an account's API keys",
    security: BEARER,
    request: { params: AccountParam },
    responses: {
      200: {
        description: "Keys",
        content: { "application/json": { schema: z.object({ data: z.array(KeySchema) }) } },
      },
      ...problemResponses(401, 403, 404, 503),
    },
  }),
  async (c) => {
    const { accountId } = c.req.valid("param");
    const db = openDatabase(c.get("config").database, { max: 1 });
    try {
      await assertAccountExists(db, accountId);
      return c.json({ data: await listApiKeys(db, accountId) }, 200);
    } finally {
      c.executionCtx.waitUntil(db.end());
    }
  },
);

apiKeyRoutes.openapi(
  createRoute({
    method: "delete",
    path: "/v1/accounts/{accountId}/api-keys/{keyId}",
    summary: "Revoke an API key (effective on the next request)",
    security: BEARER,
    request: { params: AccountParam.extend({ keyId: z.string() }) },
    responses: {
      200: { description: "Revoked", content: { "application/json": { schema: KeySchema } } },
      ...problemResponses(401, 403, 404, 503),
    },
  }),
  async (c) => {
    const { accountId, keyId } = c.req.valid("param");
    const db = openDatabase(c.get("config").database, { max: 1 });
    try {
      const info = await markApiKeyRevoked(db, accountId, keyId, c.get("clock").nowMs());
      await meterFor(c.env, accountId).revokeApiKey(accountId, keyId);
      return c.json(info, 200);
    } finally {
      c.executionCtx.waitUntil(db.end());
    }
  },
);
