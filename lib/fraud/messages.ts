import { z } from "zod";
import { isAppError } from "../errors/index.ts";
import { loadRiskConfig } from "./config-store.ts";
import type { RiskDeps } from "./deps.ts";
import { publishPendingNotifications } from "./effects.ts";
import {
  RiskSignalSchema,
  type RiskSignalWire,
  recordRiskSignal,
  signalFromWire,
} from "./signals.ts";

/**
 * Fraud messages on the `meterline-work` queue (`{ v: 1, kind, ... }`), their builders and
 * their handler. Kinds:
 * - `risk.signal`: record a signal (Stripe webhook, account meter usage screening).
 * - `risk.farm`: a card or device is shared by a farm; flag every account linked to it.
 * - `risk.notify`: publish an account's pending ladder notifications (retry path).
 */
export const RISK_MESSAGE_KINDS = ["risk.signal", "risk.farm", "risk.notify"] as const;
export type RiskMessageKind = (typeof RISK_MESSAGE_KINDS)[number];

const SignalMessage = z.object({
  v: z.literal(1),
  kind: z.literal("risk.signal"),
  signal: RiskSignalSchema,
});
const FarmMessage = z.object({
  v: z.literal(1),
  kind: z.literal("risk.farm"),
  identity: z.enum(["card", "device"]),
  valueHash: z.string().regex(/^[0-9a-f]{32}$/),
});
const NotifyMessage = z.object({
  v: z.literal(1),
  kind: z.literal("risk.notify"),
  accountId: z.string().min(1),
});
const RiskMessage = z.discriminatedUnion("kind", [SignalMessage, FarmMessage, NotifyMessage]);
export type RiskMessageBody = z.infer<typeof RiskMessage>;

/** A `risk.signal` message; what the Stripe webhook function enqueues per fraud-relevant event. */
export function signalMessage(signal: RiskSignalWire): RiskMessageBody {
  return { v: 1, kind: "risk.signal", signal };
}

/** A `risk.farm` message for a card or device hash shared by too many accounts. */
export function farmMessage(identity: "card" | "device", valueHash: string): RiskMessageBody {
  return { v: 1, kind: "risk.farm", identity, valueHash };
}

/** A `risk.notify` message: retry the account's pending platform notifications. */
export function notifyMessage(accountId: string): RiskMessageBody {
  return { v: 1, kind: "risk.notify", accountId };
}

/** What the consumer should do with a message. */
export type MessageOutcome =
  | { action: "ack"; detail: string }
  | { action: "retry"; detail: string }
  /** Malformed: retrying cannot help; acknowledged after logging. */
  | { action: "drop"; detail: string };

/** Accounts a single farm message flags at most; larger farms are flagged by later signups. */
const MAX_FARM_ACCOUNTS = 500;

async function propagateFarm(
  deps: RiskDeps,
  identity: "card" | "device",
  valueHash: string,
): Promise<MessageOutcome> {
  const { rows } = await deps.http.query<{ account_id: string }>(
    `select account_id from risk_identities where kind = $1 and value_hash = $2
      order by first_seen_at, account_id limit $3`,
    [identity, valueHash, MAX_FARM_ACCOUNTS],
  );
  const config = await loadRiskConfig(deps);
  let pending = false;
  for (const row of rows) {
    const outcome = await recordRiskSignal(
      deps,
      {
        kind: "link.farm",
        sourceId: `farm:${identity}:${valueHash}`,
        accountId: row.account_id,
        occurredAtMs: deps.clock.nowMs(),
        evidence: { identity, linkedAccounts: rows.length },
      },
      config,
    );
    pending ||= outcome.status !== "unknown_account" && outcome.notificationPending;
  }
  return pending
    ? { action: "retry", detail: "farm flagged; some notifications are still pending" }
    : { action: "ack", detail: `${rows.length} linked accounts flagged` };
}

/**
 * Handles one fraud message. Malformed bodies are dropped (logged by the consumer); failures of
 * Postgres, Redis or QStash ask for a retry, and every step is idempotent, so a retry repeats
 * nothing that already happened.
 */
export async function handleRiskMessage(body: unknown, deps: RiskDeps): Promise<MessageOutcome> {
  const parsed = RiskMessage.safeParse(body);
  if (!parsed.success) {
    return {
      action: "drop",
      detail: parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "),
    };
  }
  const message = parsed.data;
  try {
    switch (message.kind) {
      case "risk.signal": {
        const outcome = await recordRiskSignal(deps, signalFromWire(message.signal));
        if (outcome.status === "unknown_account") {
          return { action: "drop", detail: "the signal names no known account" };
        }
        return outcome.notificationPending
          ? { action: "retry", detail: "signal recorded; notification still pending" }
          : { action: "ack", detail: `${outcome.status}; level ${outcome.level}` };
      }
      case "risk.farm":
        return await propagateFarm(deps, message.identity, message.valueHash);
      case "risk.notify": {
        const { config } = await loadRiskConfig(deps);
        const sent = await publishPendingNotifications(
          deps,
          message.accountId,
          config.notifications.fallbackUrl,
        );
        return { action: "ack", detail: `${sent} notifications published` };
      }
    }
  } catch (error) {
    const detail = isAppError(error) ? `${error.code}: ${error.message}` : String(error);
    return { action: "retry", detail };
  }
}
