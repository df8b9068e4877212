/**
 * The local QStash from inside workerd, through the production adapter (lib/adapters/qstash.ts).
 * The Worker under test has no HTTP port, so deliveries use the sandbox's pull mode: a hold makes
 * messages for a URL prefix wait, the test pulls them as signed requests, verifies them with the
 * Receiver here in workerd, replays them into the Worker and reports each status back.
 * Holds are per URL prefix, so this file never moves the shared sandbox's clock or switches.
 */
import { env, exports } from "cloudflare:workers";
import { QstashError, SignatureError } from "@upstash/qstash";
import { describe, expect, it } from "vitest";
import {
  openQStash,
  openQStashReceiver,
  type QStashSettings,
} from "../../../lib/adapters/qstash.ts";

const settings: QStashSettings = {
  url: env.QSTASH_URL,
  token: env.QSTASH_TOKEN,
  currentSigningKey: env.QSTASH_CURRENT_SIGNING_KEY,
  nextSigningKey: env.QSTASH_NEXT_SIGNING_KEY,
};

interface PulledDelivery {
  messageId: string;
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string;
  retried: number;
}

async function sandbox<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${settings.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${settings.token}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as T;
}

/** A URL prefix only this test uses, held for pulling (localhost: the sandbox allows loopback). */
async function holdFreshPrefix(name: string): Promise<string> {
  const urlPrefix = `http://localhost/qstash-pull/${name}/${crypto.randomUUID()}/`;
  await sandbox("POST", "/_sandbox/holds", { urlPrefix });
  return urlPrefix;
}

/** Releases the hold; anything still pending under it would then be pushed. */
function release(urlPrefix: string) {
  return sandbox<{ released: boolean }>(
    "DELETE",
    `/_sandbox/holds?urlPrefix=${encodeURIComponent(urlPrefix)}`,
  );
}

function pull(urlPrefix: string): Promise<PulledDelivery[]> {
  return sandbox("GET", `/_sandbox/deliveries?urlPrefix=${encodeURIComponent(urlPrefix)}`);
}

function report(messageId: string, status: number, body = "") {
  return sandbox<{ state: string; retried?: number; dlqId?: string }>(
    "POST",
    `/_sandbox/deliveries/${messageId}/result`,
    { status, body },
  );
}

describe("QStash from workerd (pull mode)", () => {
  it("publishes through the adapter and verifies the pulled delivery with the Receiver", async () => {
    const prefix = await holdFreshPrefix("verify");
    const url = `${prefix}usage-alert`;
    const client = openQStash(settings);
    const { messageId } = await client.publishJSON({
      url,
      body: { kind: "usage.alert", amountMinor: 4200, currency: "USD" },
      headers: { "X-Account-Id": "acct_01" },
    });

    const deliveries = await pull(prefix);
    expect(deliveries.map((d) => [d.messageId, d.url, d.method, d.retried])).toEqual([
      [messageId, url, "POST", 0],
    ]);
    const [delivery] = deliveries as [PulledDelivery];
    expect(delivery.body).toBe('{"kind":"usage.alert","amountMinor":4200,"currency":"USD"}');
    expect(delivery.headers).toMatchObject({
      "content-type": "application/json",
      "x-account-id": "acct_01",
      "upstash-message-id": messageId,
      "upstash-retried": "0",
    });

    const receiver = openQStashReceiver(settings);
    const signature = delivery.headers["upstash-signature"] as string;
    await expect(receiver.verify({ signature, body: delivery.body, url })).resolves.toBe(true);
    await expect(
      receiver.verify({ signature, body: delivery.body.replace("4200", "1"), url }),
    ).rejects.toThrow(SignatureError);
    await expect(
      receiver.verify({ signature, body: delivery.body, url: `${prefix}elsewhere` }),
    ).rejects.toThrow(SignatureError);

    // Leased until reported: a second pull does not hand it out again.
    expect(await pull(prefix)).toEqual([]);
    expect(await report(messageId, 200)).toMatchObject({ state: "DELIVERED" });
    await expect(client.messages.get(messageId)).rejects.toThrow(QstashError);
    expect(await release(prefix)).toMatchObject({ released: true });
  });

  it("drives retries and the DLQ with the statuses the Worker answers", async () => {
    const prefix = await holdFreshPrefix("retry");
    const url = `${prefix}not-a-route`;
    const client = openQStash(settings);
    // retryDelay "0" makes the retry due at once without touching the shared sandbox clock.
    const { messageId } = await client.publishJSON({
      url,
      body: { invoice: "inv_01" },
      retries: 1,
      retryDelay: "0",
    });

    const [first] = (await pull(prefix)) as [PulledDelivery];
    const response = await exports.default.fetch(
      new Request(first.url, { method: first.method, headers: first.headers, body: first.body }),
    );
    expect(response.status).toBe(404);
    expect(await report(messageId, response.status, await response.text())).toMatchObject({
      state: "RETRY",
      retried: 1,
    });

    const [second] = (await pull(prefix)) as [PulledDelivery];
    expect([second.messageId, second.headers["upstash-retried"]]).toEqual([messageId, "1"]);
    await expect(
      openQStashReceiver(settings).verify({
        signature: second.headers["upstash-signature"] as string,
        body: second.body,
        url,
      }),
    ).resolves.toBe(true);
    const failed = await report(messageId, 503, "still down");
    expect(failed.state).toBe("FAILED");

    const { messages } = await client.dlq.listMessages({ dlqIds: [failed.dlqId as string] });
    expect(messages.map((m) => [m.messageId, m.responseStatus, m.responseBody])).toEqual([
      [messageId, 503, "still down"],
    ]);
    expect(await release(prefix)).toMatchObject({ released: true });
  });
});
