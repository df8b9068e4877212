import type { Queryable } from "../adapters/postgres.ts";
import type { Redis } from "../adapters/redis.ts";
import { REDIS_KEYS } from "./keys.ts";
import type { RiskLevel } from "./levels.ts";

/**
 * Redis mirrors of ladder state that the hot paths read without touching Postgres: each
 * account's level (absent = normal) for the rate limiter, and the flagged card and device
 * hashes for signup scoring. Postgres stays the truth; `rebuildRiskCache` restores the mirrors
 * after a Redis data loss, which the rate limiter notices by the missing `levelsSynced` marker.
 */

/** Mirrors one account's level (normal deletes the key, so the cache only holds exceptions). */
export async function cacheLevel(redis: Redis, accountId: string, level: RiskLevel): Promise<void> {
  if (level === "normal") {
    await redis.del(REDIS_KEYS.level(accountId));
  } else {
    await redis.set(REDIS_KEYS.level(accountId), level);
  }
}

/** Card and device hashes tied to an account: those it signed up with and those of its charges. */
export async function identitiesOf(
  db: Queryable,
  accountId: string,
): Promise<{ cards: string[]; devices: string[] }> {
  const { rows } = await db.query<{ kind: string; value_hash: string }>(
    `select kind, value_hash from risk_identities where account_id = $1 and kind in ('card', 'device')
     union
     select 'card', card_hash from risk_signals where account_id = $1 and card_hash is not null`,
    [accountId],
  );
  return {
    cards: rows.filter((r) => r.kind === "card").map((r) => r.value_hash),
    devices: rows.filter((r) => r.kind === "device").map((r) => r.value_hash),
  };
}

/** Adds card and device hashes to the flagged sets, so new signups presenting them score high. */
export async function flagIdentities(
  redis: Redis,
  identities: { cards: string[]; devices: string[] },
): Promise<void> {
  const pipeline = redis.pipeline();
  let commands = 0;
  const [firstCard, ...cards] = identities.cards;
  if (firstCard !== undefined) {
    pipeline.sadd(REDIS_KEYS.flagged("card"), firstCard, ...cards);
    commands += 1;
  }
  const [firstDevice, ...devices] = identities.devices;
  if (firstDevice !== undefined) {
    pipeline.sadd(REDIS_KEYS.flagged("device"), firstDevice, ...devices);
    commands += 1;
  }
  if (commands > 0) {
    await pipeline.exec();
  }
}

/**
 * Rewrites every mirror from Postgres: the level of each account not at normal, and the flags
 * of suspended accounts and of cards named in early fraud warnings or card testing. Then sets
 * the `levelsSynced` marker. Idempotent; safe to run concurrently (last writer wins with the
 * same data).
 */
export async function rebuildRiskCache(
  db: Queryable,
  redis: Redis,
  nowMs: number,
): Promise<{ levels: number }> {
  const levels = await db.query<{ account_id: string; level: RiskLevel }>(
    "select account_id, level from account_risk where level <> 'normal'",
  );
  const flagged = await db.query<{ kind: string; value_hash: string }>(
    `select i.kind, i.value_hash from risk_identities i
       join account_risk r on r.account_id = i.account_id
      where r.level = 'suspended' and i.kind in ('card', 'device')
     union
     select 'card', card_hash from risk_signals
      where card_hash is not null and kind in ('stripe.early_fraud_warning', 'velocity.card_testing')`,
  );
  const pipeline = redis.pipeline();
  for (const row of levels.rows) {
    pipeline.set(REDIS_KEYS.level(row.account_id), row.level);
  }
  for (const row of flagged.rows) {
    pipeline.sadd(REDIS_KEYS.flagged(row.kind === "device" ? "device" : "card"), row.value_hash);
  }
  pipeline.set(REDIS_KEYS.levelsSynced, String(nowMs));
  await pipeline.exec();
  return { levels: levels.rows.length };
}
