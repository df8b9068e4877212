/**
 * `POST /v1/schedules/invoice-run`: the hourly run triggered by a QStash schedule where
 * Cloudflare cron is not used. Only requests signed by QStash over the exact body and URL, with
 * the current or the next signing key, may start a run.
 */
import { env, exports } from "cloudflare:workers";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { openQStash } from "../../../lib/adapters/qstash.ts";
import { BASE } from "../support/http.ts";
import { pullDelivered, QSTASH } from "./qstash.ts";
import { DAY_MS, seedAccount } from "./support.ts";

const PATH = "/v1/schedules/invoice-run";

function base64url(bytes: ArrayBuffer): string {
  return btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");
}

/** Signs as QStash does: HS256 JWT, iss Upstash, sub the URL, body = base64url(SHA-256(body)). */
async function sign(key: string, url: string, body: string): Promise<string> {
  const hash = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body));
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ body: base64url(hash) })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer("Upstash")
    .setSubject(url)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + 300)
    .setJti(`jwt_${crypto.randomUUID()}`)
    .sign(new TextEncoder().encode(key));
}

function post(body: string, signature: string | null, url = `${BASE}${PATH}`) {
  return exports.default.fetch(
    new Request(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(signature === null ? {} : { "upstash-signature": signature }),
      },
      body,
    }),
  );
}

/** A run body that touches only a fresh account created this period (nothing due). */
async function runBody(): Promise<string> {
  const accountId = await seedAccount({ createdAtMs: Date.now() - DAY_MS });
  return JSON.stringify({ accounts: [accountId] });
}

describe("QStash-scheduled invoice runs", () => {
  it("runs when signed with the current key, and with the next key (rotation)", async () => {
    for (const key of [env.QSTASH_CURRENT_SIGNING_KEY, env.QSTASH_NEXT_SIGNING_KEY]) {
      const body = await runBody();
      const response = await post(body, await sign(key, `${BASE}${PATH}`, body));
      expect(response.status, await response.clone().text()).toBe(200);
      expect(await response.json()).toMatchObject({ initialized: 1, enqueued: 0, overdue: null });
    }
  });

  it.each([
    ["no signature", async (body: string) => post(body, null)],
    [
      "an unknown key",
      async (body: string) => post(body, await sign("not-our-key", `${BASE}${PATH}`, body)),
    ],
    [
      "a body other than the one signed",
      async (body: string) =>
        post(body, await sign(env.QSTASH_CURRENT_SIGNING_KEY, `${BASE}${PATH}`, `${body} `)),
    ],
    [
      "a token signed for another URL",
      async (body: string) =>
        post(body, await sign(env.QSTASH_CURRENT_SIGNING_KEY, `${BASE}/v1/other`, body)),
    ],
  ])("refuses %s with 401 and runs nothing", async (_name, send) => {
    const body = await runBody();
    const response = await send(body);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ code: "UNAUTHENTICATED" });
  });

  it("accepts a real QStash delivery replayed into the Worker", async () => {
    // Held under a unique query string, so only this test pulls it.
    const url = `http://localhost${PATH}?probe=${crypto.randomUUID()}`;
    const hold = await fetch(`${QSTASH.url}/_sandbox/holds`, {
      method: "POST",
      headers: { authorization: `Bearer ${QSTASH.token}`, "content-type": "application/json" },
      body: JSON.stringify({ urlPrefix: url }),
    });
    expect(hold.status).toBe(200);
    const body = JSON.parse(await runBody()) as unknown;
    await openQStash(QSTASH).publishJSON({ url, body });
    const [delivery] = await pullDelivered(url);
    expect(delivery).toBeDefined();
    const response = await exports.default.fetch(
      new Request((delivery as NonNullable<typeof delivery>).url, {
        method: "POST",
        headers: (delivery as NonNullable<typeof delivery>).headers,
        body: (delivery as NonNullable<typeof delivery>).body,
      }),
    );
    expect(response.status, await response.clone().text()).toBe(200);
  });
});
