import type { Logger } from "../log/logger.ts";
import type { AccountConfig } from "./account-config.ts";

/** Accounts pushed within the admin request; the rest go to the WORK queue. */
export const PUSH_INLINE_LIMIT = 50;
/** Pushes in flight at once: each holds a Postgres connection and a meter call. */
export const PUSH_CONCURRENCY = 4;
/** Accounts per queued push message (small messages: one failure retries few pushes). */
export const PUSH_MESSAGE_ACCOUNTS = 50;

/** WORK queue message: push fresh configurations to these account meters. */
export interface CataloguePushMessage {
  v: 1;
  kind: "catalogue.push";
  accountIds: string[];
}

/** What pushing needs: read an account's configuration and hand it to its meter. */
export interface PushDeps {
  /** The account's current configuration, or null when it does not exist. */
  load(accountId: string): Promise<AccountConfig | null>;
  /** Replaces the account meter's cached configuration. */
  configure(accountId: string, config: AccountConfig): Promise<void>;
  log: Logger;
}

/** `PushDeps` plus the WORK queue for accounts past the inline limit. */
export interface PropagationDeps extends PushDeps {
  /** Sends push messages to the WORK queue. */
  enqueue(messages: CataloguePushMessage[]): Promise<void>;
}

/** What a round of pushes did, account by account. */
export interface PushReport {
  pushed: string[];
  /** Accounts whose load or push failed; their meters learn by revalidating. */
  failed: string[];
  /** Accounts that no longer exist. */
  missing: string[];
}

/** What propagating one change did: pushes, plus what went to the queue. */
export interface PropagationReport extends PushReport {
  /** Accounts handed to the WORK queue. */
  queued: string[];
  /** Accounts that could be neither pushed nor queued; they learn by revalidating. */
  unqueued: string[];
}

/**
 * Pushes each account's current configuration to its meter, `concurrency` at a time, in the
 * order given. Never throws: a failed load or push is logged and reported, because the meter's
 * own revalidation (at most every 60 s while active) is the backstop.
 */
export async function pushConfigs(
  deps: PushDeps,
  accountIds: readonly string[],
  concurrency = PUSH_CONCURRENCY,
): Promise<PushReport> {
  const report: PushReport = { pushed: [], failed: [], missing: [] };
  let next = 0;
  async function worker(): Promise<void> {
    for (;;) {
      const accountId = accountIds[next];
      next += 1;
      if (accountId === undefined) {
        return;
      }
      try {
        const config = await deps.load(accountId);
        if (config === null) {
          report.missing.push(accountId);
          continue;
        }
        await deps.configure(accountId, config);
        report.pushed.push(accountId);
      } catch (error) {
        report.failed.push(accountId);
        deps.log.warn("catalogue push failed; the meter will revalidate", { accountId, error });
      }
    }
  }
  const workers = Math.max(1, Math.min(concurrency, accountIds.length));
  await Promise.all(Array.from({ length: workers }, () => worker()));
  return report;
}

/** Splits account ids into push messages of at most PUSH_MESSAGE_ACCOUNTS. */
export function pushMessages(accountIds: readonly string[]): CataloguePushMessage[] {
  const messages: CataloguePushMessage[] = [];
  for (let i = 0; i < accountIds.length; i += PUSH_MESSAGE_ACCOUNTS) {
    messages.push({
      v: 1,
      kind: "catalogue.push",
      accountIds: accountIds.slice(i, i + PUSH_MESSAGE_ACCOUNTS),
    });
  }
  return messages;
}

/**
 * Tells every affected account meter about a committed catalogue change: the first
 * PUSH_INLINE_LIMIT accounts are pushed now, the rest are queued as `catalogue.push` messages.
 * Never throws and never fails the admin request: pushes are an optimisation over the meters'
 * revalidation, which alone already lands every change before CATALOGUE_LEAD_SECONDS pass.
 * Logs one summary line.
 */
export async function propagateChange(
  deps: PropagationDeps,
  accountIds: readonly string[],
): Promise<PropagationReport> {
  const unique = [...new Set(accountIds)];
  const inline = unique.slice(0, PUSH_INLINE_LIMIT);
  const rest = unique.slice(PUSH_INLINE_LIMIT);
  const report: PropagationReport = {
    ...(await pushConfigs(deps, inline)),
    queued: [],
    unqueued: [],
  };
  if (rest.length > 0) {
    try {
      await deps.enqueue(pushMessages(rest));
      report.queued = rest;
    } catch (error) {
      report.unqueued = rest;
      deps.log.warn("catalogue push could not be queued; meters will revalidate", {
        accounts: rest.length,
        error,
      });
    }
  }
  deps.log.info("catalogue change propagated", {
    affected: unique.length,
    pushed: report.pushed.length,
    failed: report.failed.length,
    missing: report.missing.length,
    queued: report.queued.length,
    unqueued: report.unqueued.length,
  });
  return report;
}

/**
 * Reads a WORK queue body as a push message; null when it is not a valid version-1
 * `catalogue.push` (at most PUSH_MESSAGE_ACCOUNTS string ids).
 */
export function parsePushMessage(body: unknown): CataloguePushMessage | null {
  if (typeof body !== "object" || body === null) {
    return null;
  }
  const message = body as Partial<CataloguePushMessage>;
  const ids = message.accountIds;
  const valid =
    message.v === 1 &&
    message.kind === "catalogue.push" &&
    Array.isArray(ids) &&
    ids.length <= PUSH_MESSAGE_ACCOUNTS &&
    ids.every((id) => typeof id === "string");
  return valid ? { v: 1, kind: "catalogue.push", accountIds: ids as string[] } : null;
}
