import { type Database, openDatabase } from "../adapters/postgres.ts";
import { openQStash } from "../adapters/qstash.ts";
import { openRedis, type Redis } from "../adapters/redis.ts";
import type { Clock } from "../clock/clock.ts";
import type { Config } from "../env/config.ts";
import type { IdGenerator } from "../ids/ids.ts";
import type { Logger } from "../log/logger.ts";
import { type HttpSql, openHttpSql } from "./sql-http.ts";

/** Publishes one JSON message to the platform (QStash in production and locally). */
export interface Notifier {
  /** Resolves with the provider's message id; a repeated `deduplicationId` is not delivered twice. */
  publish(input: { url: string; body: unknown; deduplicationId: string }): Promise<string>;
}

/** Enqueues follow-up work on the `meterline-work` queue (lib/fraud/messages.ts). */
export interface WorkSender {
  send(body: unknown): Promise<void>;
}

/** Everything fraud operations touch, built per request or per queue batch. */
export interface RiskDeps {
  /** WebSocket pool: read-modify-write transactions (the ladder). Connects on first use. */
  db: Database;
  /** SQL over HTTP: hot-path reads and one-shot writes, no connection set-up. */
  http: HttpSql;
  redis: Redis;
  notifier: Notifier;
  /** Null where follow-up work cannot be enqueued; callers then do it inline. */
  work: WorkSender | null;
  clock: Clock;
  ids: IdGenerator;
  log: Logger;
  /**
   * Hands work that need not delay the answer to the runtime (a Worker's `waitUntil`). Absent
   * (queue consumers, Node), that work is awaited in place.
   */
  defer?: (work: Promise<unknown>) => void;
}

/** QStash retries a platform notification this many times before dead-lettering it. */
const NOTIFICATION_RETRIES = 5;

/**
 * Opens the fraud dependencies from the validated config: a Postgres pool (end it with
 * `close()`, in Workers through `ctx.waitUntil`; it connects only when used), Postgres over
 * HTTP, a Redis REST client and a QStash publisher.
 */
export function openRiskDeps(
  config: Config,
  extras: {
    work: WorkSender | null;
    clock: Clock;
    ids: IdGenerator;
    log: Logger;
    defer?: (work: Promise<unknown>) => void;
  },
): RiskDeps & { close(): Promise<void> } {
  const db = openDatabase(config.database, { max: 2 });
  const qstash = openQStash(config.qstash);
  return {
    db,
    http: openHttpSql(config.database),
    redis: openRedis(config.redis),
    notifier: {
      async publish({ url, body, deduplicationId }) {
        const result = await qstash.publishJSON({
          url,
          body,
          deduplicationId,
          retries: NOTIFICATION_RETRIES,
        });
        return result.messageId;
      },
    },
    ...extras,
    close: () => db.end(),
  };
}
