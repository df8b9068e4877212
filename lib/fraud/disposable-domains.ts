import type { Redis } from "../adapters/redis.ts";
import { REDIS_KEYS } from "./keys.ts";

/**
 * The disposable-email-domain list lives in a Redis set, not in the Worker bundle: the npm
 * package `disposable-email-domains` is ~121k domains (2.4 MB), which signup scoring checks
 * with one SMISMEMBER inside its pipeline. The set is replaced whole by
 * `PUT /v1/risk/disposable-domains` (see docs/fraud.md for the command).
 */

/** Domains sent to Redis per request while loading; keeps each request well under 1 MB. */
const DOMAINS_PER_REQUEST = 10_000;
/** A domain as the list spells it: lower-case labels separated by dots. */
const DOMAIN_PATTERN = /^[a-z0-9-]+(\.[a-z0-9-]+)+$/;

/** Lower-cases, trims and de-duplicates domains, dropping anything not shaped like one. */
export function cleanDomains(domains: readonly string[]): { valid: string[]; rejected: number } {
  const valid = new Set<string>();
  let rejected = 0;
  for (const raw of domains) {
    const domain = raw.trim().toLowerCase().replace(/\.$/, "");
    if (DOMAIN_PATTERN.test(domain)) {
      valid.add(domain);
    } else {
      rejected += 1;
    }
  }
  return { valid: [...valid], rejected };
}

/**
 * Replaces the disposable-domain set atomically: the domains are loaded into a fresh key in
 * chunks, then RENAMEd over the live one, so a signup never sees a half-loaded list. Returns how
 * many domains are in the new set. Throws when Redis fails (the live set is left unchanged).
 */
export async function replaceDisposableDomains(
  redis: Redis,
  domains: readonly string[],
  nowMs: number,
): Promise<{ count: number; rejected: number }> {
  const { valid, rejected } = cleanDomains(domains);
  const loading = `${REDIS_KEYS.disposableDomains}:loading:${nowMs}:${crypto.randomUUID()}`;
  for (let start = 0; start < valid.length; start += DOMAINS_PER_REQUEST) {
    const [first, ...rest] = valid.slice(start, start + DOMAINS_PER_REQUEST);
    if (first !== undefined) {
      await redis.sadd(loading, first, ...rest);
    }
  }
  const pipeline = redis.pipeline();
  if (valid.length > 0) {
    pipeline.rename(loading, REDIS_KEYS.disposableDomains);
  } else {
    pipeline.del(REDIS_KEYS.disposableDomains);
  }
  pipeline.set(REDIS_KEYS.disposableMeta, { count: valid.length, loadedAtMs: nowMs });
  await pipeline.exec();
  return { count: valid.length, rejected };
}

/** How many disposable domains are loaded, and when; count 0 when the list was never loaded. */
export async function disposableDomainsStatus(
  redis: Redis,
): Promise<{ count: number; loadedAtMs: number | null }> {
  const [count, meta] = await Promise.all([
    redis.scard(REDIS_KEYS.disposableDomains),
    redis.get<{ loadedAtMs?: number }>(REDIS_KEYS.disposableMeta),
  ]);
  return { count, loadedAtMs: typeof meta?.loadedAtMs === "number" ? meta.loadedAtMs : null };
}
