/**
 * Wire details of the Upstash REST protocol that the SDKs hide (status codes, encodings,
 * headers, the path form), asserted with plain HTTP against the global stack's stand-in.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, inject, it, vi } from "vitest";

const { url, token } = inject("stack").redis;
const auth = { authorization: `Bearer ${token}` };

function key(name: string): string {
  return `proto:${randomUUID()}:${name}`;
}

async function call(
  path: string,
  body: unknown,
  headers: Record<string, string> = auth,
): Promise<{ status: number; json: unknown; headers: Headers }> {
  const response = await fetch(`${url}${path}`, {
    method: "POST",
    headers,
    body:
      typeof body === "string"
        ? body
        : body instanceof Uint8Array
          ? new Uint8Array(body)
          : JSON.stringify(body),
  });
  return { status: response.status, json: await response.json(), headers: response.headers };
}

const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");

describe("authentication", () => {
  it("answers 401 with Upstash's error shape for a wrong or missing token", async () => {
    const wrong = await call("/", ["ping"], { authorization: "Bearer nope" });
    expect([wrong.status, wrong.json]).toEqual([
      401,
      { error: "WRONGPASS invalid or missing auth token" },
    ]);
    const missing = await call("/", ["ping"], {});
    expect(missing.status).toBe(401);
  });

  it("accepts the token as a _token query parameter", async () => {
    const response = await fetch(`${url}/ping?_token=${encodeURIComponent(token)}`);
    expect([response.status, await response.json()]).toEqual([200, { result: "PONG" }]);
  });

  it("refuses methods Upstash does not allow with 405", async () => {
    const response = await fetch(`${url}/`, { method: "DELETE", headers: auth });
    expect(response.status).toBe(405);
  });
});

describe("single commands", () => {
  it("returns plain strings without the base64 header and base64 with it, except OK", async () => {
    const k = key("enc");
    expect((await call("/", ["set", k, "Zoë 😀"])).json).toEqual({ result: "OK" });
    expect((await call("/", ["get", k])).json).toEqual({ result: "Zoë 😀" });
    const encoded = await call("/", ["get", k], { ...auth, "upstash-encoding": "base64" });
    expect(encoded.json).toEqual({ result: b64("Zoë 😀") });
    const ok = await call("/", ["set", k, "x"], { ...auth, "upstash-encoding": "base64" });
    expect(ok.json).toEqual({ result: "OK" });
    // Status replies other than OK are strings too, so they are encoded.
    const type = await call("/", ["type", k], { ...auth, "upstash-encoding": "base64" });
    expect(type.json).toEqual({ result: b64("string") });
  });

  it("renders integers as numbers, nil as null and nested arrays recursively", async () => {
    const k = key("z");
    await call("/", ["zadd", k, 1, "a", 2.5, "b"]);
    const nested = await call("/", ["eval", "return {1, 'x', {2, 'y'}, false}", 0], {
      ...auth,
      "upstash-encoding": "base64",
    });
    expect(nested.json).toEqual({ result: [1, b64("x"), [2, b64("y")], null] });
    expect((await call("/", ["zrange", k, 0, -1, "withscores"])).json).toEqual({
      result: ["a", "1", "b", "2.5"],
    });
    expect((await call("/", ["get", key("missing")])).json).toEqual({ result: null });
  });

  it("keeps integers past 2^53 exact on the wire", async () => {
    const response = await fetch(`${url}/`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify(["incrby", key("big"), "9007199254740993"]),
    });
    expect(await response.text()).toBe('{"result":9007199254740993}');
  });

  it("answers a Redis error with 400 and {error}", async () => {
    const k = key("s");
    await call("/", ["set", k, "text"]);
    expect(await call("/", ["incr", k])).toMatchObject({
      status: 400,
      json: { error: "ERR value is not an integer or out of range" },
    });
    expect(await call("/", "not json")).toMatchObject({ status: 400 });
    expect(await call("/", [])).toMatchObject({ status: 400 });
  });

  it("refuses commands that would change a shared connection", async () => {
    expect(await call("/", ["select", 1])).toEqual({
      status: 400,
      json: { error: "ERR 'select' is not available through the REST gateway" },
      headers: expect.any(Headers),
    });
  });

  it("sends an increasing upstash-sync-token header", async () => {
    const first = Number((await call("/", ["ping"])).headers.get("upstash-sync-token"));
    const second = Number((await call("/", ["ping"])).headers.get("upstash-sync-token"));
    expect(second).toBeGreaterThan(first);
  });
});

describe("binary values", () => {
  it("stores every byte value exactly and returns it base64-encoded", async () => {
    const k = key("bin");
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    const stored = await call(`/set/${encodeURIComponent(k)}`, bytes);
    expect(stored.json).toEqual({ result: "OK" });
    const read = await call("/", ["get", k], { ...auth, "upstash-encoding": "base64" });
    expect(read.json).toEqual({ result: Buffer.from(bytes).toString("base64") });
    expect((await call("/", ["strlen", k])).json).toEqual({ result: 256 });
  });
});

describe("large values", () => {
  it("returns a value spread over many socket reads intact, alongside small ones", async () => {
    const k = key("large");
    const large = "0123456789abcdef€".repeat(400_000);
    expect((await call("/", ["set", k, large])).json).toEqual({ result: "OK" });
    const response = await call("/pipeline", [
      ["strlen", k],
      ["get", k],
      ["echo", "after"],
    ]);
    expect(response.json).toEqual([
      { result: Buffer.byteLength(large) },
      { result: large },
      { result: "after" },
    ]);
  });
});

describe("path form", () => {
  it("maps /cmd/arg/... plus query parameters to a command", async () => {
    const k = key("path");
    const set = await fetch(`${url}/set/${encodeURIComponent(k)}/v%2Fw?EX=100`, { headers: auth });
    expect(await set.json()).toEqual({ result: "OK" });
    const get = await fetch(`${url}/get/${encodeURIComponent(k)}`, { headers: auth });
    expect(await get.json()).toEqual({ result: "v/w" });
    const ttl = await fetch(`${url}/ttl/${encodeURIComponent(k)}`, { headers: auth });
    expect(await ttl.json()).toEqual({ result: 100 });
  });
});

describe("pipelines and transactions", () => {
  it("answers a pipeline entry by entry, errors included, with status 200", async () => {
    const k = key("p");
    const response = await call("/pipeline", [
      ["set", k, "text"],
      ["incr", k],
      ["multi"],
      ["get", k],
    ]);
    expect([response.status, response.json]).toEqual([
      200,
      [
        { result: "OK" },
        { error: "ERR value is not an integer or out of range" },
        { error: "ERR 'multi' is not available through the REST gateway" },
        { result: "text" },
      ],
    ]);
  });

  it("answers an aborted transaction with 400 and applies none of it", async () => {
    const k = key("t");
    const response = await call("/multi-exec", [
      ["set", k, "1"],
      ["set", k],
    ]);
    expect(response).toMatchObject({
      status: 400,
      json: {
        error:
          "EXECABORT Transaction discarded because of previous errors. " +
          "(ERR wrong number of arguments for 'set' command)",
      },
    });
    expect((await call("/", ["exists", k])).json).toEqual({ result: 0 });
  });

  it("reports a command failing inside an executed transaction in its own entry", async () => {
    const k = key("t");
    const response = await call("/multi-exec", [
      ["set", k, "text"],
      ["incr", k],
      ["append", k, "!"],
    ]);
    expect([response.status, response.json]).toEqual([
      200,
      [{ result: "OK" }, { error: "ERR value is not an integer or out of range" }, { result: 5 }],
    ]);
  });
});

describe("blocking commands", () => {
  it("wait on a connection of their own while other requests carry on", async () => {
    const list = key("queue");
    // Blocks until something is pushed; if it held the shared connection, the push could never
    // run and this test would time out.
    const popped = call("/", ["blpop", list, 0]);
    await vi.waitFor(async () => {
      const clients = (await call("/", ["client", "list"])).json as { result: string };
      expect(clients.result).toContain("cmd=blpop");
    });
    expect((await call("/", ["rpush", list, "job-1"])).json).toEqual({ result: 1 });
    expect((await popped).json).toEqual({ result: [list, "job-1"] });
  });
});
