import type { Database, Queryable } from "../adapters/postgres.ts";
import type { Redis } from "../adapters/redis.ts";
import { AppError } from "../errors/index.ts";
import type { IdGenerator } from "../ids/ids.ts";
import { recordRiskAudit } from "./audit.ts";
import {
  DEFAULT_RISK_CONFIG,
  mergeConfig,
  parseRiskConfig,
  type RiskConfig,
  type VersionedRiskConfig,
} from "./config.ts";
import { REDIS_KEYS } from "./keys.ts";

/** How long Redis keeps the mirrored configuration; a lost update heals within this time. */
const CONFIG_CACHE_SECONDS = 300;

/**
 * Reads the configuration in force from Postgres: the newest saved version merged over the
 * defaults, or the defaults (version 0) when none was saved. A stored version that no longer
 * validates (a later code change made it invalid) falls back to the defaults rather than
 * stopping every decision; the fallback is visible as version 0.
 */
export async function readRiskConfig(db: Queryable): Promise<VersionedRiskConfig> {
  const { rows } = await db.query<{ version: string; config: unknown }>(
    "select version::text as version, config from risk_config_versions order by version desc limit 1",
  );
  const row = rows[0];
  if (!row) {
    return { version: 0, config: DEFAULT_RISK_CONFIG };
  }
  const parsed = parseRiskConfig(row.config);
  return parsed.ok
    ? { version: Number(row.version), config: parsed.config }
    : { version: 0, config: DEFAULT_RISK_CONFIG };
}

/** Interprets the Redis mirror (read in a decision's pipeline); null when absent or invalid. */
export function cachedRiskConfig(value: unknown): VersionedRiskConfig | null {
  if (typeof value !== "object" || value === null) {
    return null;
  }
  const { version, config } = value as { version?: unknown; config?: unknown };
  if (typeof version !== "number") {
    return null;
  }
  const parsed = parseRiskConfig(config);
  return parsed.ok ? { version, config: parsed.config } : null;
}

/** Writes the Redis mirror of a configuration. */
export async function mirrorRiskConfig(
  redis: Redis,
  versioned: VersionedRiskConfig,
): Promise<void> {
  await redis.set(REDIS_KEYS.config, versioned, { ex: CONFIG_CACHE_SECONDS });
}

/**
 * The configuration for a decision: the Redis mirror when the pipeline found one, otherwise
 * Postgres (and the mirror is refreshed for the next decision).
 */
export async function resolveRiskConfig(
  mirrored: unknown,
  db: Queryable,
  redis: Redis,
): Promise<VersionedRiskConfig> {
  const cached = cachedRiskConfig(mirrored);
  if (cached) {
    return cached;
  }
  const fresh = await readRiskConfig(db);
  await mirrorRiskConfig(redis, fresh);
  return fresh;
}

/**
 * The configuration in force, read from the Redis mirror (one command) or, when the mirror is
 * missing, from Postgres. For paths that do not already read the mirror in a pipeline.
 */
export async function loadRiskConfig(deps: {
  http: Queryable;
  redis: Redis;
}): Promise<VersionedRiskConfig> {
  return resolveRiskConfig(await deps.redis.get(REDIS_KEYS.config), deps.http, deps.redis);
}

/**
 * Saves a new configuration version: `patch` (any subset of the configuration) is merged over
 * the version in force, validated, stored as the next version and audited in one transaction,
 * then mirrored to Redis. Throws VALIDATION_FAILED naming every invalid field.
 */
export async function updateRiskConfig(
  deps: { db: Database; redis: Redis; ids: IdGenerator; nowMs: number },
  patch: unknown,
  actor: string,
  reason: string,
): Promise<VersionedRiskConfig> {
  const saved = await deps.db.transaction(async (tx) => {
    // One writer at a time, so versions stay gapless and each audits the right "before".
    await tx.query("lock table risk_config_versions in exclusive mode");
    const current = await readRiskConfig(tx);
    const parsed = parseRiskConfig(mergeConfig(current.config, patch));
    if (!parsed.ok) {
      const fieldErrors = parsed.issues.map((issue) => ({
        field: `/config/${issue.path.map(String).join("/")}`,
        code: "invalid",
        detail: issue.message,
      }));
      throw new AppError("VALIDATION_FAILED", "The risk configuration is invalid", {
        detail: fieldErrors.map((e) => `${e.field}: ${e.detail}`).join("; "),
        fieldErrors,
      });
    }
    const { rows } = await tx.query<{ version: string }>(
      "select coalesce(max(version), 0)::text as version from risk_config_versions",
    );
    const version = Number(rows[0]?.version ?? 0) + 1;
    await tx.query(
      `insert into risk_config_versions (version, config, actor, reason, created_at)
       values ($1, $2, $3, $4, $5)`,
      [version, JSON.stringify(parsed.config), actor, reason, new Date(deps.nowMs).toISOString()],
    );
    await recordRiskAudit(tx, deps.ids, {
      accountId: null,
      action: "config.updated",
      actor,
      reason,
      before: { version: current.version, config: current.config },
      after: { version, config: parsed.config },
      reasons: [],
      atMs: deps.nowMs,
    });
    return { version, config: parsed.config } satisfies VersionedRiskConfig;
  });
  await mirrorRiskConfig(deps.redis, saved);
  return saved;
}

export type { RiskConfig };
