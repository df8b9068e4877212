import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import type { AccountMeter } from "../../../durable-objects/account-meter.ts";
import { seedAccount, seedMeters } from "../support/catalogue.ts";
import { call, callJson, unique } from "../support/http.ts";

const SUM = unique("hi-sum");
const SIGNED = unique("hi-signed");
const ACCOUNT = unique("hi-acct");
const OTHER = unique("hi-other");

interface Summary {
  accepted: number;
  duplicates: number;
  rejected: { index: number; id: string | null; code: string; detail: string }[];
}

async function countedEvents(accountId: string): Promise<number> {
  const stub = env.ACCOUNT_METER.get(env.ACCOUNT_METER.idFromName(accountId));
  return runInDurableObject(
    stub,
    (instance: AccountMeter) =>
      instance.sql.exec<{ n: number }>("SELECT count(*) AS n FROM seen_events").one().n,
  );
}

async function accountKey(accountId: string): Promise<string> {
  const created = await callJson<{ key: string }>(`/v1/accounts/${accountId}/api-keys`, 201, {
    body: { name: "test" },
  });
  return created.key;
}

async function sendRaw(
  text: string,
  contentType = "application/json",
  key?: string,
): Promise<Response> {
  return call("/v1/events", {
    rawBody: text,
    headers: { "content-type": contentType },
    key,
    method: "POST",
  });
}

beforeAll(async () => {
  await seedMeters([
    { key: SUM, aggregation: "sum" },
    { key: SIGNED, aggregation: "sum", allowNegative: true },
  ]);
  await seedAccount({ id: ACCOUNT });
  await seedAccount({ id: OTHER });
});

describe("hostile input to POST /v1/events", () => {
  it("rejects malformed JSON as a whole with a problem document and stores nothing", async () => {
    const before = await countedEvents(ACCOUNT);
    const response = await sendRaw(
      `[{"id":"a","account":"${ACCOUNT}","meter":"${SUM}","value":1},`,
    );
    expect(response.status).toBe(400);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    const problem = (await response.json()) as { code: string; instance: string };
    expect(problem.code).toBe("MALFORMED_BODY");
    expect(problem.instance).toBe(response.headers.get("request-id"));
    expect(await countedEvents(ACCOUNT)).toBe(before);
  });

  it("refuses a JSON body that is neither an event nor an array of events, whole", async () => {
    const before = await countedEvents(ACCOUNT);
    for (const body of ["null", "42", '"x"', "true", "12345678901234567890"]) {
      const response = await sendRaw(body);
      expect(response.status).toBe(400);
      const problem = (await response.json()) as { code: string; detail: string };
      expect([problem.code, problem.detail]).toEqual([
        "MALFORMED_BODY",
        "Send one event as a JSON object, or several as a JSON array of objects.",
      ]);
    }
    expect(await countedEvents(ACCOUNT)).toBe(before);
  });

  it("gives each bad event its own code while the good ones are counted", async () => {
    const now = Date.now();
    const events = [
      { id: "ok-1", account: ACCOUNT, meter: SUM, value: "1" },
      { id: "t1", account: ACCOUNT, meter: SUM, value: true },
      { id: "t2", account: ACCOUNT, meter: SUM, value: "NaN" },
      { id: "t3", account: ACCOUNT, meter: SUM, value: "Infinity" },
      { id: "t4", account: ACCOUNT, meter: SUM, value: "-1" },
      { id: "t5", account: ACCOUNT, meter: SUM, value: "18446744073709551616" },
      { id: "t6", account: ACCOUNT, meter: SUM, value: "0.0000000000001" },
      { id: "x".repeat(129), account: ACCOUNT, meter: SUM, value: "1" },
      { id: "t8", account: ACCOUNT, meter: "no-such-meter", value: "1" },
      { id: "t9", account: ACCOUNT, meter: SUM },
      { id: "t10", account: ACCOUNT, meter: SUM, value: "1", time: "yesterday" },
      {
        id: "t11",
        account: ACCOUNT,
        meter: SUM,
        value: "1",
        time: new Date(now + 3_600_000).toISOString(),
      },
      {
        id: "t12",
        account: ACCOUNT,
        meter: SUM,
        value: "1",
        time: new Date(now - 40 * 86_400_000).toISOString(),
      },
      { id: "t13", account: ACCOUNT, meter: SUM, value: "1", properties: { nested: { a: 1 } } },
      { id: "t14", account: ACCOUNT, meter: SUM, value: "1", colour: "red" },
      { id: "t15", meter: SUM, value: "1" },
      { id: 16, account: ACCOUNT, meter: SUM, value: "1" },
      { id: "ok-2", account: ACCOUNT, meter: SIGNED, value: "-2.5" },
      "not an object",
    ];
    const summary = await callJson<Summary>("/v1/events", 202, { body: events });
    expect(summary.accepted).toBe(2);
    expect(summary.rejected.map((r) => [r.index, r.code])).toEqual([
      [1, "VALUE_NOT_DECIMAL"],
      [2, "VALUE_NOT_DECIMAL"],
      [3, "VALUE_NOT_DECIMAL"],
      [4, "VALUE_NEGATIVE"],
      [5, "VALUE_OUT_OF_RANGE"],
      [6, "VALUE_OUT_OF_RANGE"],
      [7, "ID_INVALID"],
      [8, "UNKNOWN_METER"],
      [9, "VALUE_REQUIRED"],
      [10, "TIME_INVALID"],
      [11, "TIME_IN_FUTURE"],
      [12, "TIME_TOO_OLD"],
      [13, "PROPERTIES_INVALID"],
      [14, "UNKNOWN_FIELD"],
      [15, "ACCOUNT_REQUIRED"],
      [16, "ID_INVALID"],
      [18, "EVENT_NOT_OBJECT"],
    ]);
  });

  it("refuses numbers a double cannot hold instead of rounding them", async () => {
    const text =
      `[{"id":"big","account":"${ACCOUNT}","meter":"${SUM}","value":123456789012345678901},` +
      `{"id":"fine","account":"${ACCOUNT}","meter":"${SUM}","value":0.10000000000000000001},` +
      `{"id":"exact","account":"${ACCOUNT}","meter":"${SUM}","value":9007199254740993}]`;
    const summary = (await (await sendRaw(text)).json()) as Summary;
    expect(summary.rejected.map((r) => [r.id, r.code])).toEqual([
      ["big", "VALUE_OUT_OF_RANGE"],
      ["fine", "VALUE_OUT_OF_RANGE"],
    ]);
    expect(summary.accepted).toBe(1);
    const usage = await callJson<{ meters: { key: string; quantity: string }[] }>(
      `/v1/accounts/${ACCOUNT}/usage?meter=${SUM}`,
      200,
    );
    expect(usage.meters.find((m) => m.key === SUM)?.quantity).toBe("9007199254740994");
  });

  it("rejects ill-formed unicode and control characters in ids", async () => {
    const text =
      `[{"id":"\\ud800","account":"${ACCOUNT}","meter":"${SUM}","value":1},` +
      `{"id":"a\\u0000b","account":"${ACCOUNT}","meter":"${SUM}","value":1},` +
      `{"id":"ünïcødé-😀","account":"${ACCOUNT}","meter":"${SUM}","value":1}]`;
    const summary = (await (await sendRaw(text)).json()) as Summary;
    expect(summary.rejected.map((r) => [r.index, r.code])).toEqual([
      [0, "ID_INVALID"],
      [1, "ID_INVALID"],
    ]);
    expect(summary.accepted).toBe(1);
  });

  it("refuses an oversize body with 413 and a gzip bomb before inflating it all", async () => {
    const big = "x".repeat(9 * 1024 * 1024);
    const response = await sendRaw(`[{"id":"${big}"}]`);
    expect(response.status).toBe(413);
    expect(((await response.json()) as { code: string }).code).toBe("PAYLOAD_TOO_LARGE");

    const zeros = new Uint8Array(20 * 1024 * 1024);
    const compressed = await new Response(
      new Blob([zeros]).stream().pipeThrough(new CompressionStream("gzip")),
    ).arrayBuffer();
    expect(compressed.byteLength).toBeLessThan(100_000);
    const bomb = await call("/v1/events", {
      rawBody: compressed,
      headers: { "content-type": "application/json", "content-encoding": "gzip" },
      method: "POST",
    });
    expect(bomb.status).toBe(413);
  });

  it("accepts gzip, NDJSON and CloudEvents", async () => {
    const ndjson = [
      JSON.stringify({ id: "nd1", account: ACCOUNT, meter: SUM, value: "1" }),
      "{not json",
      JSON.stringify({ id: "nd2", account: ACCOUNT, meter: SUM, value: "2" }),
      "",
    ].join("\n");
    const gz = await new Response(
      new Blob([ndjson]).stream().pipeThrough(new CompressionStream("gzip")),
    ).arrayBuffer();
    const summary = await callJson<Summary>("/v1/events", 202, {
      rawBody: gz,
      method: "POST",
      headers: { "content-type": "application/x-ndjson", "content-encoding": "gzip" },
    });
    expect(summary.accepted).toBe(2);
    expect(summary.rejected.map((r) => [r.index, r.code])).toEqual([[1, "MALFORMED_JSON"]]);

    const batch = [
      {
        specversion: "1.0",
        id: "ce1",
        source: "/runner",
        type: SUM,
        subject: ACCOUNT,
        data: { value: "3", region: "eu" },
      },
      {
        specversion: "0.3",
        id: "ce2",
        source: "/runner",
        type: SUM,
        subject: ACCOUNT,
        data: { value: "3" },
      },
    ];
    const ce = await callJson<Summary>("/v1/events", 202, {
      rawBody: JSON.stringify(batch),
      method: "POST",
      headers: { "content-type": "application/cloudevents-batch+json" },
    });
    expect(ce.accepted).toBe(1);
    expect(ce.rejected.map((r) => [r.index, r.code])).toEqual([[1, "CLOUDEVENT_INVALID"]]);
  });

  it("refuses unknown media types and encodings", async () => {
    const xml = await sendRaw("<events/>", "application/xml");
    expect(xml.status).toBe(415);
    const br = await call("/v1/events", {
      rawBody: "{}",
      method: "POST",
      headers: { "content-type": "application/json", "content-encoding": "br" },
    });
    expect(br.status).toBe(415);
  });
});

describe("body encoding, reserved keys and nesting", () => {
  interface Problem {
    code: string;
    detail: string;
  }

  function event(id: string): string {
    return `{"id":"${id}","account":"${ACCOUNT}","meter":"${SUM}","value":"1"}`;
  }

  /** `text` as UTF-8 with one raw byte spliced in where `@` stands. */
  function withRawByte(text: string, byte: number): Uint8Array<ArrayBuffer> {
    const [before = "", after = ""] = text.split("@");
    const head = new TextEncoder().encode(before);
    const tail = new TextEncoder().encode(after);
    const out = new Uint8Array(head.length + 1 + tail.length);
    out.set(head);
    out[head.length] = byte;
    out.set(tail, head.length + 1);
    return out;
  }

  async function gzip(bytes: Uint8Array<ArrayBuffer>): Promise<ArrayBuffer> {
    return new Response(
      new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip")),
    ).arrayBuffer();
  }

  it("refuses invalid UTF-8 as a whole instead of replacing it, plain or gzipped", async () => {
    const before = await countedEvents(ACCOUNT);
    const statuses: number[] = [];
    for (const byte of [0xff, 0xfe]) {
      const body = withRawByte(`[${event("u8@")}]`, byte);
      for (const [rawBody, encoding] of [
        [body, "identity"],
        [await gzip(body), "gzip"],
      ] as const) {
        const response = await call("/v1/events", {
          rawBody,
          method: "POST",
          headers: { "content-type": "application/json", "content-encoding": encoding },
        });
        statuses.push(response.status);
        const problem = (await response.json()) as Problem;
        expect([problem.code, problem.detail]).toEqual([
          "MALFORMED_BODY",
          "The body is not valid UTF-8. Encode the JSON text as UTF-8.",
        ]);
      }
    }
    expect(statuses).toEqual([400, 400, 400, 400]);
    expect(await countedEvents(ACCOUNT)).toBe(before);
  });

  it("accepts UTF-8 under any spelling of its charset and refuses other charsets", async () => {
    const statuses: number[] = [];
    for (const [id, contentType] of [
      ["cs-1", "application/json; charset=utf-8"],
      ["cs-2", 'application/json;charset="UTF-8"'],
      ["cs-3", "application/x-ndjson; charset=utf8"],
      ["cs-4", "application/json; charset=iso-8859-1"],
      ["cs-5", "application/json; charset=utf-16"],
    ] as const) {
      statuses.push((await sendRaw(`[${event(id)}]`, contentType)).status);
    }
    expect(statuses).toEqual([202, 202, 202, 415, 415]);
    const problem = (await (
      await sendRaw(`[${event("cs-6")}]`, "application/json; charset=iso-8859-1")
    ).json()) as Problem;
    expect([problem.code, problem.detail]).toEqual([
      "UNSUPPORTED_MEDIA_TYPE",
      "The charset iso-8859-1 is not supported: send UTF-8 (charset=utf-8, or none).",
    ]);
  });

  it("refuses a __proto__ property key rather than dropping it, in events and CloudEvents", async () => {
    const plain = (await (
      await sendRaw(
        `[{"id":"proto-1","account":"${ACCOUNT}","meter":"${SUM}","value":"1",` +
          `"properties":{"region":"eu","__proto__":"x"}}]`,
      )
    ).json()) as Summary;
    const cloud = (await (
      await sendRaw(
        `{"specversion":"1.0","id":"proto-2","source":"/t","type":"${SUM}",` +
          `"subject":"${ACCOUNT}","data":{"value":"1","__proto__":{"a":"b"}}}`,
        "application/cloudevents+json",
      )
    ).json()) as Summary;
    const expected = {
      code: "PROPERTIES_INVALID",
      detail: 'property key "__proto__" is reserved; choose another name',
    };
    expect([plain.accepted, plain.rejected]).toEqual([
      0,
      [{ index: 0, id: "proto-1", ...expected }],
    ]);
    expect([cloud.accepted, cloud.rejected]).toEqual([
      0,
      [{ index: 0, id: "proto-2", ...expected }],
    ]);
  });

  it("refuses a body nesting deeper than 64 levels with a long number, saying so", async () => {
    const nested = (depth: number) =>
      `${"[".repeat(depth - 1)}{"id":"deep","value":12345678901234567}${"]".repeat(depth - 1)}`;
    const atLimit = await sendRaw(nested(64));
    expect(atLimit.status).toBe(202);
    expect(((await atLimit.json()) as Summary).rejected.map((r) => r.code)).toEqual([
      "EVENT_NOT_OBJECT",
    ]);
    for (const depth of [65, 100_000]) {
      const response = await sendRaw(nested(depth));
      expect(response.status).toBe(400);
      const problem = (await response.json()) as Problem;
      expect([problem.code, problem.detail]).toEqual([
        "MALFORMED_BODY",
        "The body nests too deeply (limit 64): arrays and objects may nest at most 64 levels. " +
          "An event needs 3 (batch, event, properties).",
      ]);
    }
    const ndjson = await callJson<Summary>("/v1/events", 202, {
      rawBody: `${event("nd-deep-ok")}\n${nested(65)}\n`,
      method: "POST",
      headers: { "content-type": "application/x-ndjson" },
    });
    expect([ndjson.accepted, ndjson.rejected]).toEqual([
      1,
      [
        {
          index: 1,
          id: null,
          code: "MALFORMED_JSON",
          detail: "line 2: nests too deeply (limit 64)",
        },
      ],
    ]);
  });
});

describe("tenancy and keys", () => {
  it("answers 401 without a key, with a wrong key, and with a revoked key", async () => {
    const body = [{ id: "auth-1", meter: SUM, value: "1" }];
    expect((await call("/v1/events", { body, key: null })).status).toBe(401);
    expect((await call("/v1/events", { body, key: "nope" })).status).toBe(401);
    const forged = `mlk_${btoa(ACCOUNT).replaceAll("=", "")}.${"a".repeat(32)}`;
    expect((await call("/v1/events", { body, key: forged })).status).toBe(401);

    const key = await accountKey(ACCOUNT);
    expect((await callJson<Summary>("/v1/events", 202, { body, key })).accepted).toBe(1);
    const keys = await callJson<{ data: { id: string }[] }>(
      `/v1/accounts/${ACCOUNT}/api-keys`,
      200,
    );
    for (const k of keys.data) {
      await callJson(`/v1/accounts/${ACCOUNT}/api-keys/${k.id}`, 200, { method: "DELETE" });
    }
    expect(
      (await call("/v1/events", { body: [{ id: "auth-2", meter: SUM, value: "1" }], key })).status,
    ).toBe(401);
  });

  it("never lets one account's key write or read another account", async () => {
    const key = await accountKey(OTHER);
    const before = await countedEvents(ACCOUNT);
    const summary = await callJson<Summary>("/v1/events", 202, {
      key,
      body: [{ id: "cross", account: ACCOUNT, meter: SUM, value: "1" }],
    });
    expect(summary.rejected.map((r) => r.code)).toEqual(["ACCOUNT_FORBIDDEN"]);
    expect(await countedEvents(ACCOUNT)).toBe(before);
    const read = await call(`/v1/accounts/${ACCOUNT}/usage`, { key });
    expect(read.status).toBe(404);
    const missing = await call(`/v1/accounts/${unique("nobody")}/usage`, { key });
    expect(missing.status).toBe(404);
    expect((await read.json()) as { detail: string }).toEqual(
      expect.objectContaining({ detail: "The account does not exist or this key cannot see it." }),
    );
    const admin = await call(`/v1/accounts/${OTHER}/api-keys`, { key });
    expect(admin.status).toBe(403);
  });
});
