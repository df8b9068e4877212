import { openQStash, type QStashSettings } from "../adapters/qstash.ts";

/**
 * Sends one webhook through QStash: QStash signs every delivery (`Upstash-Signature`, a JWT over
 * the body's SHA-256 and the URL) and retries failures with backoff, then dead-letters them.
 */
export interface Publisher {
  /** Resolves with QStash's message id; the same `deduplicationId` is never delivered twice. */
  publish(input: { url: string; body: unknown; deduplicationId: string }): Promise<string>;
}

/** Delivery attempts after the first before QStash dead-letters a billing webhook. */
export const WEBHOOK_RETRIES = 5;

/** A Publisher over the QStash SDK (production QStash, or the local stand-in by URL). */
export function qstashPublisher(settings: QStashSettings): Publisher {
  const client = openQStash(settings);
  return {
    async publish({ url, body, deduplicationId }) {
      const result = await client.publishJSON({
        url,
        body,
        deduplicationId,
        retries: WEBHOOK_RETRIES,
      });
      return result.messageId;
    },
  };
}

/** The JSON every billing webhook carries: what happened, to which account, and its data. */
export interface WebhookBody {
  /** e.g. `spend.threshold_crossed`, `spend.cap_reached`, `invoice.overdue`. */
  type: string;
  /** Stable per event: receivers deduplicate on it. */
  id: string;
  accountId: string;
  createdAt: string;
  data: Record<string, unknown>;
}

/**
 * A QStash deduplication id from parts that are unique together (account, event, target). It is
 * sent as a header, so characters beyond letters, digits and `-` (an account id may hold `:` or
 * `.`) are escaped as `_xxxx` (UTF-16 code unit in hex) and parts are joined by `__`, which no
 * escaped part contains: the mapping is one-to-one, so distinct parts never share an id.
 */
export function deduplicationId(...parts: string[]): string {
  const escapePart = (part: string) =>
    part.replaceAll(/[^A-Za-z0-9-]/g, (c) => `_${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  return parts.map(escapePart).join("__");
}
