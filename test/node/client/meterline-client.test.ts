import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { MeterlineClient, retryAfterMs } from "../../../client/meterline-client.ts";

interface Received {
  encoding: string | undefined;
  auth: string | undefined;
  events: { id: string; meter: string; value?: unknown }[];
}

type Responder = (
  req: IncomingMessage,
  received: Received,
  n: number,
) => "drop" | { status: number; headers?: Record<string, string>; body: unknown };

let server: Server | undefined;

async function serve(responder: Responder): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks);
      const text =
        req.headers["content-encoding"] === "gzip" ? gunzipSync(raw).toString() : raw.toString();
      const entry: Received = {
        encoding: req.headers["content-encoding"],
        auth: req.headers.authorization,
        events: JSON.parse(text),
      };
      received.push(entry);
      const answer = responder(req, entry, received.length);
      if (answer === "drop") {
        req.socket.destroy();
        return;
      }
      res.writeHead(answer.status, { "content-type": "application/json", ...answer.headers });
      res.end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received };
}

afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

function accepted(events: unknown[]) {
  return { status: 202, body: { accepted: events.length, duplicates: 0, rejected: [] } };
}

function client(
  url: string,
  waits: number[],
  extra: Partial<ConstructorParameters<typeof MeterlineClient>[0]> = {},
) {
  return new MeterlineClient({
    baseUrl: url,
    apiKey: "mlk_test",
    random: () => 0.5,
    sleep: async (ms) => {
      waits.push(ms);
    },
    ...extra,
  });
}

describe("MeterlineClient", () => {
  it("batches by count, gzips, and keeps ids across retries", async () => {
    const { url, received } = await serve((_req, r, n) =>
      n === 1 ? { status: 503, body: {} } : accepted(r.events),
    );
    const waits: number[] = [];
    const c = client(url, waits, { maxBatchEvents: 3, concurrency: 1 });
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      ids.push(await c.track({ meter: "tokens", value: String(i), account: "a1" }));
    }
    const results = await c.flush();
    expect(received.map((r) => r.events.length)).toEqual([3, 3, 2]);
    expect(received[0]?.events.map((e) => e.id)).toEqual(received[1]?.events.map((e) => e.id));
    expect(received.every((r) => r.encoding === "gzip" && r.auth === "Bearer mlk_test")).toBe(true);
    expect(results.map((r) => [r.events, r.accepted, r.attempts])).toEqual([
      [3, 3, 2],
      [2, 2, 1],
    ]);
    expect(new Set(ids).size).toBe(5);
    expect(waits).toEqual([100]);
  });

  it("honours Retry-After on 429 and retries dropped connections", async () => {
    const { url, received } = await serve((_req, r, n) => {
      if (n === 1) {
        return { status: 429, headers: { "retry-after": "7" }, body: { code: "RATE_LIMITED" } };
      }
      if (n === 2) {
        return "drop";
      }
      return accepted(r.events);
    });
    const waits: number[] = [];
    const c = client(url, waits);
    await c.track({ id: "fixed-id", meter: "m", account: "a" });
    const [result] = await c.flush();
    expect(result).toMatchObject({ accepted: 1, attempts: 3 });
    expect(waits).toEqual([7000, 200]);
    expect(received.map((r) => r.events[0]?.id)).toEqual(["fixed-id", "fixed-id", "fixed-id"]);
  });

  it("returns client errors without retrying, and gives up after maxRetries", async () => {
    const { url } = await serve(() => ({ status: 422, body: { code: "VALIDATION_FAILED" } }));
    const waits: number[] = [];
    const c = client(url, waits);
    await c.track({ meter: "m", account: "a" });
    const [bad] = await c.flush();
    expect(bad).toMatchObject({ attempts: 1, accepted: 0, failure: { status: 422 } });
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    const dead = client(url, waits, { maxRetries: 2, timeoutMs: 2000 });
    await dead.track({ meter: "m", account: "a" });
    const [gone] = await dead.flush();
    expect(gone).toMatchObject({ attempts: 3, accepted: 0, failure: { status: null } });
  });

  it("reads Retry-After as seconds or an HTTP date", () => {
    expect(retryAfterMs("3", 0)).toBe(3000);
    expect(retryAfterMs("Thu, 01 Jan 1970 00:00:10 GMT", 4000)).toBe(6000);
    expect(retryAfterMs("soon", 0)).toBeNull();
    expect(retryAfterMs(null, 0)).toBeNull();
  });

  it("keeps one order key in order: a batch holding it waits for the one before", async () => {
    // Arrivals as the server saw them: the series each request held, and the series of the
    // requests still unanswered at that moment.
    const arrivals: { series: string[]; open: string[] }[] = [];
    const open = new Map<number, { series: string[]; answer: () => void }>();
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const events = JSON.parse(gunzipSync(Buffer.concat(chunks)).toString()) as {
          properties: { deployment: string };
        }[];
        const series = [...new Set(events.map((e) => e.properties.deployment))];
        arrivals.push({ series, open: [...open.values()].flatMap((o) => o.series) });
        const n = arrivals.length;
        open.set(n, {
          series,
          answer: () => {
            open.delete(n);
            res.writeHead(202, { "content-type": "application/json" });
            res.end(JSON.stringify({ accepted: events.length, duplicates: 0, rejected: [] }));
          },
        });
        // The first request is held until the second arrives: proof that unrelated batches
        // still travel together. Later ones are answered at once.
        if (n === 2) {
          open.get(1)?.answer();
          open.get(2)?.answer();
        } else if (n > 2) {
          open.get(n)?.answer();
        }
      });
    });
    await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const c = client(url, [], {
      maxBatchEvents: 2,
      concurrency: 4,
      orderKey: (e) => e.properties?.deployment as string,
    });
    for (const [deployment, s] of [
      ["a", 0],
      ["a", 10],
      ["c", 0],
      ["c", 10],
      ["a", 20],
      ["a", 30],
    ] as const) {
      await c.track({
        meter: "vcpu",
        value: "1",
        properties: { deployment },
        id: `${deployment}${s}`,
      });
    }
    const results = await c.flush();
    expect(results.map((r) => r.accepted)).toEqual([2, 2, 2]);
    expect(arrivals).toEqual([
      { series: ["a"], open: [] },
      { series: ["c"], open: ["a"] },
      { series: ["a"], open: [] },
    ]);
  });
});
