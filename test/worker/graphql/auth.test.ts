import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { issueSession, SESSION_TTL_SECONDS } from "../../../functions/dashboard/session.ts";
import { BASE, callJson, unique } from "../support/http.ts";
import { codes, gql } from "./support.ts";

const QUERY = JSON.stringify({ query: "{ now }" });

/** POSTs `{ now }` with the given headers and no bearer key. */
async function post(headers: Record<string, string>, url = `${BASE}/graphql`) {
  const response = await exports.default.fetch(
    new Request(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: QUERY,
    }),
  );
  return {
    status: response.status,
    body: (await response.json()) as {
      data?: unknown;
      errors?: { extensions: { code: string } }[];
    },
  };
}

describe("who may query", () => {
  it("answers the admin key", async () => {
    const { status, body, headers } = await gql("{ now }");
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    expect(headers.get("request-id")).toMatch(/^req_/);
    expect(headers.get("cache-control")).toBe("no-store");
  });

  it("refuses no key and a wrong key with 401 UNAUTHENTICATED", async () => {
    const none = await gql("{ now }", {}, { key: null });
    expect([none.status, codes(none.body)]).toEqual([401, ["UNAUTHENTICATED"]]);
    const wrong = await gql("{ now }", {}, { key: "ml_admin_wrong_0123456789abcdef0123" });
    expect([wrong.status, codes(wrong.body)]).toEqual([401, ["UNAUTHENTICATED"]]);
  });

  it("refuses an account key with 403 FORBIDDEN", async () => {
    const account = await callJson<{ id: string }>("/v1/accounts", 201, {
      body: {
        id: unique("gauth"),
        name: "Auth test",
        currency: "USD",
        timeZone: "UTC",
        billingInterval: { unit: "month", count: 1, anchorDay: 1 },
      },
    });
    const { key } = await callJson<{ key: string }>(`/v1/accounts/${account.id}/api-keys`, 201, {
      body: { name: "graphql test" },
    });
    const { status, body } = await gql("{ now }", {}, { key });
    expect([status, codes(body)]).toEqual([403, ["FORBIDDEN"]]);
  });

  it("answers a valid dashboard session cookie from the same origin", async () => {
    const token = await issueSession(env.ADMIN_API_KEY, Date.now());
    const { status, body } = await post({
      cookie: `meterline_session=${token}`,
      origin: BASE,
      "sec-fetch-site": "same-origin",
    });
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
  });

  it("refuses expired, forged and foreign-key sessions with 401", async () => {
    const expired = await issueSession(
      env.ADMIN_API_KEY,
      Date.now() - SESSION_TTL_SECONDS * 1000 - 1000,
    );
    const valid = await issueSession(env.ADMIN_API_KEY, Date.now());
    const forged = `${valid.slice(0, valid.lastIndexOf(".") + 1)}${"A".repeat(43)}`;
    const foreign = await issueSession("ml_admin_some_other_deployment_key_0000", Date.now());
    for (const token of [expired, forged, foreign, "garbage"]) {
      const { status, body } = await post({ cookie: `meterline_session=${token}` });
      expect([status, body.errors?.[0]?.extensions.code]).toEqual([401, "UNAUTHENTICATED"]);
    }
  });

  it("refuses a session used from another origin or site with 403", async () => {
    const token = await issueSession(env.ADMIN_API_KEY, Date.now());
    const fromSibling = await post({
      cookie: `meterline_session=${token}`,
      origin: "http://evil.meterline.test",
    });
    expect([fromSibling.status, fromSibling.body.errors?.[0]?.extensions.code]).toEqual([
      403,
      "FORBIDDEN",
    ]);
    const crossSite = await post({
      cookie: `meterline_session=${token}`,
      "sec-fetch-site": "cross-site",
    });
    expect([crossSite.status, crossSite.body.errors?.[0]?.extensions.code]).toEqual([
      403,
      "FORBIDDEN",
    ]);
  });

  it("executes only JSON POSTs: GET is 405 and a form post is 415", async () => {
    const get = await exports.default.fetch(
      new Request(`${BASE}/graphql?query=%7Bnow%7D`, {
        headers: { authorization: `Bearer ${env.ADMIN_API_KEY}` },
      }),
    );
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
    const form = await exports.default.fetch(
      new Request(`${BASE}/graphql`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${env.ADMIN_API_KEY}`,
          "content-type": "application/x-www-form-urlencoded",
        },
        body: "query=%7Bnow%7D",
      }),
    );
    expect(form.status).toBe(415);
    expect(
      ((await form.json()) as { errors: { extensions: { code: string } }[] }).errors[0]?.extensions
        .code,
    ).toBe("UNSUPPORTED_MEDIA_TYPE");
  });

  it("sends no CORS grant to another origin", async () => {
    const response = await exports.default.fetch(
      new Request(`${BASE}/graphql`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${env.ADMIN_API_KEY}`,
          "content-type": "application/json",
          origin: "https://elsewhere.example",
        },
        body: QUERY,
      }),
    );
    expect(response.status).toBe(200);
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
    expect(response.headers.get("access-control-allow-credentials")).toBeNull();
    await response.body?.cancel();
  });
});
