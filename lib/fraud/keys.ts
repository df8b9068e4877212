/**
 * Every Redis key the fraud code uses, in one place. Identifier parts are hashes from
 * lib/fraud/identity.ts (never raw emails, IPs or fingerprints); account ids are meterline's.
 */
export const REDIS_KEYS = {
  /** JSON `{version, config}`: mirror of the newest risk_config_versions row. */
  config: "risk:config",
  /** Set of disposable email domains (PUT /v1/risk/disposable-domains). */
  disposableDomains: "risk:disposable",
  /** JSON `{count, loadedAtMs}` describing the loaded disposable-domain set. */
  disposableMeta: "risk:disposable:meta",
  /** Sorted set (score = time in ms) behind one sliding-window counter. */
  velocity: (counter: string, subject: string) => `risk:v:${counter}:${subject}`,
  /** Set of account ids that presented one card, device or normalised email. */
  link: (kind: "card" | "device" | "email", hash: string) => `risk:link:${kind}:${hash}`,
  /** Set of card or device hashes tied to fraud (suspended accounts, early fraud warnings). */
  flagged: (kind: "card" | "device") => `risk:flagged:${kind}`,
  /** The account's ladder level when not normal (absent means normal). */
  level: (accountId: string) => `risk:level:${accountId}`,
  /** Present once the level cache was rebuilt from Postgres; absent after a Redis data loss. */
  levelsSynced: "risk:levels:synced",
  /** Short lock so one request at a time rebuilds the level cache. */
  levelsSyncLock: "risk:levels:sync-lock",
  /** Prefix of the @upstash/ratelimit windows, per rate tier. */
  rateLimit: (tier: string) => `risk:rl:${tier}`,
} as const;
