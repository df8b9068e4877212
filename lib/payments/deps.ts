import type { Database } from "../adapters/postgres.ts";
import { openDatabase } from "../adapters/postgres.ts";
import { openQStash } from "../adapters/qstash.ts";
import { openStripe, type Stripe } from "../adapters/stripe.ts";
import type { Actor } from "../audit/audit-log.ts";
import type { Clock } from "../clock/clock.ts";
import type { Config } from "../env/config.ts";
import type { Notifier, WorkSender } from "../fraud/deps.ts";
import type { IdGenerator } from "../ids/ids.ts";
import type { Logger } from "../log/logger.ts";

/** Everything payment operations touch, built per request, per queue batch or per cron run. */
export interface PaymentDeps {
  db: Database;
  stripe: Stripe;
  clock: Clock;
  ids: IdGenerator;
  log: Logger;
  /** Publishes customer notifications (QStash); null where none may be sent (some tests). */
  notifier: Notifier | null;
  /** Enqueues follow-up work on `meterline-work` (fraud signals, collections); null: skipped. */
  work: WorkSender | null;
}

/** What code running inside one transaction needs besides the transaction itself. */
export interface TxContext {
  ids: IdGenerator;
  /** The instant the change happens, ms since the epoch. */
  nowMs: number;
  /** Who causes it, for the audit trail: `system:payments`, `stripe:webhook`, `admin`. */
  actor: Actor;
  log: Logger;
}

/** Stripe answers slower than this are given up on and treated as "answer unknown". */
export const STRIPE_TIMEOUT_MS = 20_000;

/** QStash retries a customer notification this many times before dead-lettering it. */
const NOTIFICATION_RETRIES = 5;

/** A Notifier over QStash: JSON to the URL, deduplicated by the notification id. */
export function qstashNotifier(config: Config): Notifier {
  const qstash = openQStash(config.qstash);
  return {
    async publish({ url, body, deduplicationId }) {
      const result = await qstash.publishJSON({
        url,
        body,
        deduplicationId,
        retries: NOTIFICATION_RETRIES,
      });
      return result.messageId;
    },
  };
}

/**
 * Opens payment dependencies from the validated config. The Postgres pool holds at most
 * `maxConnections` (a collection uses two: the invoice lock and the work); end it with
 * `close()`, in Workers through `ctx.waitUntil`.
 */
export function openPaymentDeps(
  config: Config,
  extras: {
    clock: Clock;
    ids: IdGenerator;
    log: Logger;
    work: WorkSender | null;
    db?: Database;
    maxConnections?: number;
  },
): PaymentDeps & { close(): Promise<void> } {
  const ownDb = extras.db === undefined;
  const db = extras.db ?? openDatabase(config.database, { max: extras.maxConnections ?? 4 });
  return {
    db,
    stripe: openStripe(config.stripe, { timeoutMs: STRIPE_TIMEOUT_MS }),
    clock: extras.clock,
    ids: extras.ids,
    log: extras.log,
    notifier: qstashNotifier(config),
    work: extras.work,
    close: () => (ownDb ? db.end() : Promise.resolve()),
  };
}
