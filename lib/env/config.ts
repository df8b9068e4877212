import { z } from "zod";
import { AppError } from "../errors/index.ts";
import { isLogLevel, type LogLevel } from "../log/logger.ts";

/**
 * Secrets and vars the Worker reads, validated once per isolate. Production sets secrets with
 * `wrangler secret put`; local runs get them from `.dev.vars` (see `.dev.vars.example`).
 * The URLs select the service: managed ones in production, the local stack in dev and tests.
 */
const nonEmpty = z.string().trim().min(1);
const url = z.url();

const RawEnvSchema = z.object({
  ENVIRONMENT: nonEmpty.default("production"),
  LOG_LEVEL: z
    .string()
    .default("info")
    .refine((v) => isLogLevel(v), "one of debug, info, warn, error"),
  LATE_ARRIVAL_WINDOW_DAYS: z.coerce.number().int().min(1).max(400).default(35),
  INVOICE_GRACE_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(7 * 86_400)
    .default(3600),
  /**
   * A sent outbox batch not confirmed by the sinks within this many seconds is sent again. The
   * default outlasts the queue's own retries (about 15 minutes); local chaos runs lower it.
   */
  OUTBOX_RESEND_SECONDS: z.coerce.number().int().min(5).max(86_400).default(1200),
  PUBLIC_BASE_URL: url.optional(),
  /** Where account status changes (a hard spend cap reached) are announced to the platform. */
  PLATFORM_NOTIFICATION_URL: url.optional(),
  ADMIN_API_KEY: nonEmpty.min(24, "at least 24 characters"),
  DATABASE_URL: nonEmpty,
  /** Local only: host:port of a WebSocket-to-TCP proxy in front of plain Postgres. */
  NEON_WS_PROXY: z.string().trim().optional(),
  /** Local only: URL of the Neon HTTP SQL endpoint stand-in. */
  NEON_HTTP_ENDPOINT: url.optional(),
  CLICKHOUSE_URL: url,
  CLICKHOUSE_USER: z.string().trim().default("default"),
  CLICKHOUSE_PASSWORD: z.string().default(""),
  CLICKHOUSE_DATABASE: z.string().trim().default("meterline"),
  UPSTASH_REDIS_REST_URL: url,
  UPSTASH_REDIS_REST_TOKEN: nonEmpty,
  STRIPE_SECRET_KEY: nonEmpty,
  /** Trimmed: a secret pasted with a trailing newline must not silently fail every webhook. */
  STRIPE_WEBHOOK_SECRET: nonEmpty,
  /** Local only: base URL of the Stripe sandbox, e.g. http://127.0.0.1:12111. */
  STRIPE_API_BASE: url.optional(),
  QSTASH_URL: url.default("https://qstash.upstash.io"),
  QSTASH_TOKEN: nonEmpty,
  QSTASH_CURRENT_SIGNING_KEY: nonEmpty,
  QSTASH_NEXT_SIGNING_KEY: nonEmpty,
});

export interface Config {
  environment: string;
  logLevel: LogLevel;
  lateArrivalWindowDays: number;
  invoiceGraceSeconds: number;
  outboxResendSeconds: number;
  publicBaseUrl: string | undefined;
  platformNotificationUrl: string | undefined;
  adminApiKey: string;
  database: { url: string; wsProxy: string | undefined; httpEndpoint: string | undefined };
  clickhouse: { url: string; username: string; password: string; database: string };
  redis: { url: string; token: string };
  stripe: { secretKey: string; webhookSecret: string; apiBase: string | undefined };
  qstash: { url: string; token: string; currentSigningKey: string; nextSigningKey: string };
}

/** Validates the raw environment into a Config or throws BAD_ENVIRONMENT naming each problem. */
export function parseConfig(env: Record<string, unknown>): Config {
  const result = RawEnvSchema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map(
      (issue) => `${issue.path.join(".")}: ${issue.message}`,
    );
    throw new AppError("BAD_ENVIRONMENT", `Bad environment: ${problems.join("; ")}`, {
      detail:
        "The Worker's vars or secrets are missing or invalid. Set them with `wrangler secret put` " +
        "(production) or in .dev.vars (local); see .dev.vars.example.",
      context: { problems },
    });
  }
  const raw = result.data;
  return {
    environment: raw.ENVIRONMENT,
    logLevel: raw.LOG_LEVEL as LogLevel,
    lateArrivalWindowDays: raw.LATE_ARRIVAL_WINDOW_DAYS,
    invoiceGraceSeconds: raw.INVOICE_GRACE_SECONDS,
    outboxResendSeconds: raw.OUTBOX_RESEND_SECONDS,
    publicBaseUrl: raw.PUBLIC_BASE_URL,
    platformNotificationUrl: raw.PLATFORM_NOTIFICATION_URL,
    adminApiKey: raw.ADMIN_API_KEY,
    database: {
      url: raw.DATABASE_URL,
      wsProxy: raw.NEON_WS_PROXY || undefined,
      httpEndpoint: raw.NEON_HTTP_ENDPOINT,
    },
    clickhouse: {
      url: raw.CLICKHOUSE_URL,
      username: raw.CLICKHOUSE_USER,
      password: raw.CLICKHOUSE_PASSWORD,
      database: raw.CLICKHOUSE_DATABASE,
    },
    redis: { url: raw.UPSTASH_REDIS_REST_URL, token: raw.UPSTASH_REDIS_REST_TOKEN },
    stripe: {
      secretKey: raw.STRIPE_SECRET_KEY,
      webhookSecret: raw.STRIPE_WEBHOOK_SECRET,
      apiBase: raw.STRIPE_API_BASE,
    },
    qstash: {
      url: raw.QSTASH_URL,
      token: raw.QSTASH_TOKEN,
      currentSigningKey: raw.QSTASH_CURRENT_SIGNING_KEY,
      nextSigningKey: raw.QSTASH_NEXT_SIGNING_KEY,
    },
  };
}

/**
 * Isolate-level cache of parsed configs, keyed by the env object. Lifetime: the isolate; the
 * runtime hands the same env object to every request of one deployment, so parsing runs once.
 */
const CONFIG_CACHE = new WeakMap<object, Config>();

/** Returns the validated config for this env, parsing it on first use in the isolate. */
export function configFor(env: object): Config {
  let config = CONFIG_CACHE.get(env);
  if (!config) {
    config = parseConfig(env as Record<string, unknown>);
    CONFIG_CACHE.set(env, config);
  }
  return config;
}
