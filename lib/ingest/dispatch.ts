import { AppError } from "../errors/index.ts";
import type { DecodedBody } from "./decode.ts";
import { type Sender, type UsageEvent, validateEvent } from "./event.ts";
import { INGEST_LIMITS } from "./limits.ts";
import type { EventRejection, EventRejectionCode } from "./rejections.ts";
import { EVENT_REJECTION_CODES } from "./rejections.ts";

/** An event bound for an account meter, with its index in the request. */
export type MeterEvent = UsageEvent & { index: number };

/** A rated-usage queue message a meter handed over for the Worker to send (JSON text body). */
export interface HandedMessage {
  batchId: string;
  body: string;
}

/** What an account meter answered for its share of a request. */
export type MeterAnswer =
  | {
      status: "ok";
      accepted: number;
      duplicates: number;
      rejected: EventRejection[];
      outbox?: HandedMessage[];
    }
  | { status: "unauthenticated" }
  | { status: "unknown_account" }
  | { status: "unavailable"; detail: string }
  | { status: "refused"; code: EventRejectionCode; detail: string };

/** How the dispatcher reaches account meters (Durable Object stubs in the Worker). */
export interface MeterGateway {
  ingest(accountId: string, events: MeterEvent[], keyHash: string | null): Promise<MeterAnswer>;
  authenticate(accountId: string, keyHash: string): Promise<boolean>;
  /**
   * Sends the messages the meters handed over (called once per request, before the outcome is
   * returned or thrown, so a 503 for one account never strands another account's messages).
   */
  send(handedOver: { accountId: string; messages: HandedMessage[] }[]): void;
}

/** The 202 body of `POST /v1/events`. */
export interface IngestSummary {
  accepted: number;
  duplicates: number;
  rejected: EventRejection[];
}

/**
 * Validates decoded events, groups them by account and hands each account's share to its meter
 * in one call, all accounts concurrently. One bad event never blocks the others. Whole-request
 * failures throw: a bad account key (401), too many accounts (413), or a meter that could not
 * answer (503, safe to retry as a whole because every event is idempotent by id).
 */
export async function dispatchEvents(
  decoded: DecodedBody,
  sender: Sender,
  keyHash: string | null,
  nowMs: number,
  gateway: MeterGateway,
): Promise<IngestSummary> {
  const rejected: EventRejection[] = decoded.malformed.map((m) => ({
    index: m.index,
    id: null,
    code: m.code,
    detail: m.detail || EVENT_REJECTION_CODES[m.code],
  }));
  const byAccount = new Map<string, MeterEvent[]>();
  for (const raw of decoded.events) {
    const outcome = validateEvent(raw, sender, nowMs);
    if (!outcome.ok) {
      rejected.push(outcome.rejection);
      continue;
    }
    const list = byAccount.get(outcome.event.accountId);
    const event: MeterEvent = { ...outcome.event, index: raw.index };
    if (list) {
      list.push(event);
    } else {
      byAccount.set(outcome.event.accountId, [event]);
    }
  }
  if (byAccount.size > INGEST_LIMITS.maxAccountsPerRequest) {
    throw new AppError("PAYLOAD_TOO_LARGE", `${byAccount.size} accounts in one request`, {
      detail: `Send events for at most ${INGEST_LIMITS.maxAccountsPerRequest} accounts per request.`,
    });
  }

  if (sender.kind === "account" && keyHash !== null && byAccount.size === 0) {
    // Nothing reached the meter, so it never saw the key: verify it before answering.
    if (!(await gateway.authenticate(sender.accountId, keyHash))) {
      throw new AppError("UNAUTHENTICATED", "Missing or invalid API key", {
        detail: "The API key is not valid or was revoked.",
      });
    }
  }

  const answers = await Promise.all(
    [...byAccount].map(async ([accountId, events]) => {
      try {
        return { accountId, events, answer: await gateway.ingest(accountId, events, keyHash) };
      } catch (error) {
        return {
          accountId,
          events,
          answer: { status: "unavailable", detail: String(error) } as MeterAnswer,
        };
      }
    }),
  );

  const summary: IngestSummary = { accepted: 0, duplicates: 0, rejected };
  const handedOver: { accountId: string; messages: HandedMessage[] }[] = [];
  let unavailable: string | null = null;
  for (const { accountId, events, answer } of answers) {
    switch (answer.status) {
      case "ok":
        summary.accepted += answer.accepted;
        summary.duplicates += answer.duplicates;
        summary.rejected.push(...answer.rejected);
        if (answer.outbox && answer.outbox.length > 0) {
          handedOver.push({ accountId, messages: answer.outbox });
        }
        break;
      case "unauthenticated":
        throw new AppError("UNAUTHENTICATED", "Missing or invalid API key", {
          detail: "The API key is not valid or was revoked.",
        });
      case "unknown_account":
        for (const event of events) {
          summary.rejected.push({
            index: event.index,
            id: event.id,
            code: "UNKNOWN_ACCOUNT",
            detail: `no account ${JSON.stringify(accountId)}`,
          });
        }
        break;
      case "refused":
        for (const event of events) {
          summary.rejected.push({
            index: event.index,
            id: event.id,
            code: answer.code,
            detail: answer.detail,
          });
        }
        break;
      case "unavailable":
        unavailable = answer.detail;
        break;
    }
  }
  if (handedOver.length > 0) {
    gateway.send(handedOver);
  }
  if (unavailable !== null) {
    throw new AppError("DEPENDENCY_UNAVAILABLE", "Some events could not be counted", {
      detail:
        "An account meter could not answer. Retry the whole request: events already counted are " +
        "recognised by id and reported as duplicates.",
      context: { cause: unavailable },
      retryAfterSeconds: 2,
    });
  }
  summary.rejected.sort((a, b) => a.index - b.index);
  return summary;
}
