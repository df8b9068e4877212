import { env } from "cloudflare:workers";
import { expect, vi } from "vitest";
import { openQStashReceiver, type QStashSettings } from "../../../lib/adapters/qstash.ts";

/**
 * The local QStash's pull mode, for webhooks whose receiver is this test: deliveries to a held
 * URL prefix wait in the sandbox until pulled (signed at that moment), and are reported back.
 * Holds are per prefix, so tests never touch the shared sandbox's clock or signing key.
 */
export const QSTASH: QStashSettings = {
  url: env.QSTASH_URL,
  token: env.QSTASH_TOKEN,
  currentSigningKey: env.QSTASH_CURRENT_SIGNING_KEY,
  nextSigningKey: env.QSTASH_NEXT_SIGNING_KEY,
};

export interface Delivery {
  messageId: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

async function sandbox<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${QSTASH.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${QSTASH.token}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  expect(response.status, await response.clone().text()).toBe(200);
  return (await response.json()) as T;
}

/** A fresh held loopback prefix (the sandbox only delivers to loopback). */
export async function holdPrefix(name: string): Promise<string> {
  const urlPrefix = `http://localhost/billing-hooks/${name}/${crypto.randomUUID()}/`;
  await sandbox("POST", "/_sandbox/holds", { urlPrefix });
  return urlPrefix;
}

/** Pulls what is waiting under the prefix, acknowledging each with 200 (delivered). */
export async function pullDelivered(urlPrefix: string): Promise<Delivery[]> {
  const pulled = await sandbox<Delivery[]>(
    "GET",
    `/_sandbox/deliveries?urlPrefix=${encodeURIComponent(urlPrefix)}`,
  );
  for (const delivery of pulled) {
    await sandbox("POST", `/_sandbox/deliveries/${delivery.messageId}/result`, {
      status: 200,
      body: "",
    });
  }
  return pulled;
}

/** Pulls until `count` deliveries arrived under the prefix (they are published asynchronously). */
export async function waitForDeliveries(urlPrefix: string, count: number): Promise<Delivery[]> {
  const all: Delivery[] = [];
  await vi.waitFor(
    async () => {
      all.push(...(await pullDelivered(urlPrefix)));
      expect(all.length).toBeGreaterThanOrEqual(count);
    },
    { timeout: 15_000, interval: 200 },
  );
  return all;
}

/** Verifies a pulled delivery's Upstash-Signature as a receiver would (current, then next key). */
export async function verified(delivery: Delivery): Promise<boolean> {
  return openQStashReceiver(QSTASH).verify({
    signature: delivery.headers["upstash-signature"] ?? "",
    body: delivery.body,
    url: delivery.url,
  });
}

export async function release(urlPrefix: string): Promise<void> {
  await sandbox("DELETE", `/_sandbox/holds?urlPrefix=${encodeURIComponent(urlPrefix)}`);
}
