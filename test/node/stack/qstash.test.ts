/**
 * The local QStash stand-in, driven by the official @upstash/qstash Client and verified by the
 * official Receiver (devMode off), delivering to a real HTTP receiver started here. Most tests use
 * a private sandbox because they freeze and move its clock and flip its switches, which would
 * disturb other test files sharing the stack's instance; one test checks that instance too.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client, QstashError, Receiver, SignatureError } from "@upstash/qstash";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type RunningService, spawnService } from "../../../local-stack/process.ts";
import type { QStashInfo } from "../../../local-stack/stack.ts";

const SCRIPT = fileURLToPath(new URL("../../../local-stack/qstash/main.ts", import.meta.url));
const JAN_1_2030_MS = Date.UTC(2030, 0, 1);

interface Received {
  path: string;
  method: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A loopback HTTP server that records every request and answers with scripted statuses. */
class Hooks {
  readonly received: Received[] = [];
  #script = new Map<string, { status: number; body: string }[]>();
  #server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const path = request.url ?? "/";
      this.received.push({
        path,
        method: request.method ?? "",
        headers: request.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      });
      const next = this.#script.get(path)?.shift() ?? { status: 200, body: "ok" };
      response.writeHead(next.status, { "content-type": "text/plain" });
      response.end(next.body);
    });
  });

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
  }

  stop(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  /** A fresh path on this server, so tests never see each other's deliveries. */
  path(name: string): string {
    return `/hooks/${name}/${randomUUID()}`;
  }

  url(path: string): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}${path}`;
  }

  /** The next answers for `path`, in order; afterwards it answers 200. */
  answer(path: string, ...replies: { status: number; body?: string }[]): void {
    this.#script.set(
      path,
      replies.map((reply) => ({ status: reply.status, body: reply.body ?? "" })),
    );
  }

  at(path: string): Received[] {
    return this.received.filter((r) => r.path === path);
  }
}

/** A private sandbox process plus the clients a test needs. */
interface Sandbox {
  service: RunningService<QStashInfo & { port: number }>;
  info: QStashInfo;
  client: Client;
}

async function startSandbox(dataDir: string, port = 0): Promise<Sandbox> {
  const service = await spawnService<QStashInfo & { port: number }>({
    name: "qstash",
    script: SCRIPT,
    args: ["--data", dataDir, "--port", String(port)],
    logDir: join(dataDir, "..", "logs"),
  });
  const info = service.info;
  return { service, info, client: new Client({ baseUrl: info.url, token: info.token }) };
}

/** Calls a `/_sandbox` control route and returns its JSON answer. */
async function control<T = Record<string, unknown>>(
  info: QStashInfo,
  path: string,
  body: unknown = {},
): Promise<T> {
  const response = await fetch(`${info.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${info.token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as T;
}

function signatureOf(request: Received): string {
  return String(request.headers["upstash-signature"]);
}

function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split(".")[1] ?? "", "base64url").toString("utf8"));
}

/** Rejects with the QstashError's status, for asserting refusals by status. */
async function statusOf(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof QstashError) {
      return error.status ?? -1;
    }
    throw error;
  }
  return 200;
}

const hooks = new Hooks();
const root = mkdtempSync(join(tmpdir(), "qstash-test-"));
let sandbox: Sandbox;
let receivers: { both: Receiver; currentOnly: Receiver; nextOnly: Receiver };

beforeAll(async () => {
  await hooks.start();
  sandbox = await startSandbox(join(root, "main"));
  const { currentSigningKey, nextSigningKey } = sandbox.info;
  receivers = {
    both: new Receiver({ currentSigningKey, nextSigningKey, devMode: false }),
    currentOnly: new Receiver({
      currentSigningKey,
      nextSigningKey: "sig_not_the_next_key",
      devMode: false,
    }),
    nextOnly: new Receiver({
      currentSigningKey: "sig_not_the_current_key",
      nextSigningKey,
      devMode: false,
    }),
  };
  await control(sandbox.info, "/_sandbox/clock", { setMs: JAN_1_2030_MS, frozen: true });
});

afterAll(async () => {
  await sandbox?.service.stop();
  await hooks.stop();
  rmSync(root, { recursive: true, force: true });
});

describe("publish and signed delivery", () => {
  it("delivers publishJSON with forwarded headers and a signature made with the current key", async () => {
    const path = hooks.path("publish");
    const published = await sandbox.client.publishJSON({
      url: hooks.url(path),
      body: { kind: "usage.alert", amountMinor: 1250, currency: "EUR" },
      headers: { "X-Account-Id": "acct_01" },
    });
    expect(published).toEqual({ messageId: expect.stringMatching(/^msg_/), url: hooks.url(path) });

    await control(sandbox.info, "/_sandbox/flush");
    const got = hooks.at(path);
    expect(got).toHaveLength(1);
    const [request] = got as [Received];
    expect(request.method).toBe("POST");
    expect(request.body).toBe('{"kind":"usage.alert","amountMinor":1250,"currency":"EUR"}');
    expect(request.headers).toMatchObject({
      "content-type": "application/json",
      "x-account-id": "acct_01",
      "upstash-message-id": published.messageId,
      "upstash-retried": "0",
      "user-agent": "Upstash-QStash",
    });

    const verify = { signature: signatureOf(request), body: request.body, url: hooks.url(path) };
    await expect(receivers.both.verify(verify)).resolves.toBe(true);
    await expect(receivers.currentOnly.verify(verify)).resolves.toBe(true);
    await expect(receivers.nextOnly.verify(verify)).rejects.toThrow(SignatureError);

    const claims = claimsOf(verify.signature);
    expect(claims).toMatchObject({ iss: "Upstash", sub: hooks.url(path) });
    expect([Number(claims.exp) - Number(claims.iat), claims.nbf]).toEqual([300, claims.iat]);
    expect(String(claims.jti)).toMatch(/^jwt_/);
  });

  it("signs with the next key after the rotation switch, which the Receiver still accepts", async () => {
    await control(sandbox.info, "/_sandbox/config", { signingKey: "next" });
    try {
      const path = hooks.path("rotation");
      await sandbox.client.publishJSON({ url: hooks.url(path), body: { rotated: true } });
      await control(sandbox.info, "/_sandbox/flush");
      const [request] = hooks.at(path) as [Received];
      const verify = { signature: signatureOf(request), body: request.body, url: hooks.url(path) };
      await expect(receivers.both.verify(verify)).resolves.toBe(true);
      await expect(receivers.nextOnly.verify(verify)).resolves.toBe(true);
      await expect(receivers.currentOnly.verify(verify)).rejects.toThrow(SignatureError);
    } finally {
      await control(sandbox.info, "/_sandbox/config", { signingKey: "current" });
    }
  });

  it("lets the Receiver reject a tampered body and a different URL", async () => {
    const path = hooks.path("tamper");
    await sandbox.client.publishJSON({ url: hooks.url(path), body: { amountMinor: 100 } });
    await control(sandbox.info, "/_sandbox/flush");
    const [request] = hooks.at(path) as [Received];
    const signature = signatureOf(request);

    await expect(
      receivers.both.verify({ signature, body: '{"amountMinor":999}', url: hooks.url(path) }),
    ).rejects.toThrow(/body hash does not match/);
    await expect(
      receivers.both.verify({ signature, body: request.body, url: hooks.url("/hooks/other") }),
    ).rejects.toThrow(/invalid subject/);
  });

  it("delivers each message of a batchJSON", async () => {
    const first = hooks.path("batch-a");
    const second = hooks.path("batch-b");
    const results = await sandbox.client.batchJSON([
      { url: hooks.url(first), body: { n: 1 } },
      { url: hooks.url(second), body: { n: 2 }, headers: { "X-Tenant": "t2" } },
    ]);
    expect(results.map((r) => r.url)).toEqual([hooks.url(first), hooks.url(second)]);

    await control(sandbox.info, "/_sandbox/flush");
    const a = hooks.at(first);
    const b = hooks.at(second);
    expect([a.length, b.length]).toEqual([1, 1]);
    expect([a[0]?.body, b[0]?.body]).toEqual(['{"n":1}', '{"n":2}']);
    expect(b[0]?.headers["x-tenant"]).toBe("t2");
    expect([a[0]?.headers["upstash-message-id"], b[0]?.headers["upstash-message-id"]]).toEqual(
      results.map((r) => r.messageId),
    );
  });

  it("delivers enqueueJSON messages of one queue in order", async () => {
    const path = hooks.path("queue");
    const queue = sandbox.client.queue({ queueName: `invoices-${randomUUID()}` });
    // Paused first, so all three wait and the order of delivery is the queue's doing.
    await queue.upsert({ parallelism: 1, paused: true });
    for (const n of [1, 2, 3]) {
      await queue.enqueueJSON({ url: hooks.url(path), body: { n } });
    }
    await control(sandbox.info, "/_sandbox/flush");
    expect([(await queue.get()).lag, hooks.at(path).length]).toEqual([3, 0]);

    await queue.resume();
    await control(sandbox.info, "/_sandbox/flush");
    expect(hooks.at(path).map((r) => JSON.parse(r.body).n)).toEqual([1, 2, 3]);
    expect((await queue.get()).lag).toBe(0);
  });
});

describe("time, retries and the DLQ on the sandbox clock", () => {
  it("holds a delayed message until the sandbox clock reaches its delay", async () => {
    const path = hooks.path("delay");
    const { messageId } = await sandbox.client.publishJSON({
      url: hooks.url(path),
      body: { delayed: true },
      delay: 60,
    });
    const message = await sandbox.client.messages.get(messageId);
    expect(message.notBefore).toBe(message.createdAt + 60_000);

    await control(sandbox.info, "/_sandbox/flush");
    await control(sandbox.info, "/_sandbox/clock", { advanceSeconds: 59 });
    expect(hooks.at(path)).toHaveLength(0);
    await control(sandbox.info, "/_sandbox/clock", { advanceSeconds: 1 });
    expect(hooks.at(path)).toHaveLength(1);
  });

  it("holds a message until its notBefore time", async () => {
    const path = hooks.path("not-before");
    const clock = await control<{ nowMs: number }>(sandbox.info, "/_sandbox/clock");
    await sandbox.client.publishJSON({
      url: hooks.url(path),
      body: {},
      notBefore: Math.floor(clock.nowMs / 1000) + 120,
    });
    await control(sandbox.info, "/_sandbox/clock", { advanceSeconds: 119 });
    expect(hooks.at(path)).toHaveLength(0);
    await control(sandbox.info, "/_sandbox/clock", { advanceSeconds: 1 });
    expect(hooks.at(path)).toHaveLength(1);
  });

  it("retries with QStash's exponential backoff (12.2 s, then 148.4 s) until the receiver succeeds", async () => {
    const path = hooks.path("backoff");
    hooks.answer(path, { status: 503 }, { status: 503 });
    const { messageId } = await sandbox.client.publishJSON({
      url: hooks.url(path),
      body: { attempt: "until-ok" },
      retries: 3,
    });
    const attempts = async (advanceSeconds: number) => {
      await control(sandbox.info, "/_sandbox/clock", { advanceSeconds });
      return hooks.at(path).length;
    };
    expect(await attempts(0)).toBe(1);
    expect(await attempts(12)).toBe(1);
    expect(await attempts(1)).toBe(2);
    expect(await attempts(148)).toBe(2);
    expect(await attempts(1)).toBe(3);

    expect(hooks.at(path).map((r) => r.headers["upstash-retried"])).toEqual(["0", "1", "2"]);
    expect(await statusOf(sandbox.client.messages.get(messageId))).toBe(404);
  });

  it("retries at once with the fast backoff switch, counting Upstash-Retried", async () => {
    await control(sandbox.info, "/_sandbox/config", { retryBackoff: "fast" });
    try {
      const path = hooks.path("fast");
      hooks.answer(path, { status: 500 }, { status: 502 });
      await sandbox.client.publishJSON({ url: hooks.url(path), body: {}, retries: 3 });
      await control(sandbox.info, "/_sandbox/flush");
      expect(hooks.at(path).map((r) => r.headers["upstash-retried"])).toEqual(["0", "1", "2"]);
    } finally {
      await control(sandbox.info, "/_sandbox/config", { retryBackoff: "standard" });
    }
  });

  it("moves a message to the DLQ when retries are exhausted and calls the failure callback", async () => {
    const path = hooks.path("dead");
    const failurePath = hooks.path("failure-callback");
    hooks.answer(path, ...[0, 1, 2].map(() => ({ status: 500, body: "ledger unavailable" })));
    const { messageId } = await sandbox.client.publishJSON({
      url: hooks.url(path),
      body: { invoice: "inv_1" },
      retries: 2,
      retryDelay: "0",
      failureCallback: hooks.url(failurePath),
    });
    await control(sandbox.info, "/_sandbox/flush");
    expect(hooks.at(path).map((r) => r.headers["upstash-retried"])).toEqual(["0", "1", "2"]);
    expect(await statusOf(sandbox.client.messages.get(messageId))).toBe(404);

    const { messages } = await sandbox.client.dlq.listMessages({
      filter: { url: hooks.url(path) },
    });
    expect(messages).toHaveLength(1);
    const [dead] = messages as [(typeof messages)[number]];
    expect(dead).toMatchObject({
      messageId,
      url: hooks.url(path),
      body: '{"invoice":"inv_1"}',
      maxRetries: 2,
      responseStatus: 500,
      responseBody: "ledger unavailable",
    });

    const [callback] = hooks.at(failurePath) as [Received];
    expect(JSON.parse(callback.body)).toMatchObject({
      status: 500,
      retried: 2,
      maxRetries: 2,
      sourceMessageId: messageId,
      dlqId: dead.dlqId,
      body: Buffer.from("ledger unavailable").toString("base64"),
      sourceBody: Buffer.from('{"invoice":"inv_1"}').toString("base64"),
    });
    await expect(
      receivers.both.verify({
        signature: signatureOf(callback),
        body: callback.body,
        url: hooks.url(failurePath),
      }),
    ).resolves.toBe(true);

    await sandbox.client.dlq.delete(dead.dlqId);
    const after = await sandbox.client.dlq.listMessages({ filter: { url: hooks.url(path) } });
    expect(after.messages).toHaveLength(0);
  });
});

describe("deduplication", () => {
  it("accepts a repeated deduplication id once and delivers once", async () => {
    const path = hooks.path("dedup");
    const request = { url: hooks.url(path), body: { n: 1 }, deduplicationId: randomUUID() };
    const first = await sandbox.client.publishJSON(request);
    const second = await sandbox.client.publishJSON({ ...request, body: { n: 2 } });
    expect(second).toEqual({
      messageId: first.messageId,
      url: hooks.url(path),
      deduplicated: true,
    });

    await control(sandbox.info, "/_sandbox/flush");
    expect(hooks.at(path).map((r) => r.body)).toEqual(['{"n":1}']);
  });

  it("deduplicates identical content when asked, and not different content", async () => {
    const path = hooks.path("content");
    const publish = (n: number) =>
      sandbox.client.publishJSON({
        url: hooks.url(path),
        body: { n },
        contentBasedDeduplication: true,
      });
    const [a, b, c] = [await publish(1), await publish(1), await publish(2)];
    expect(b.messageId).toBe(a.messageId);
    expect(c.messageId).not.toBe(a.messageId);

    await control(sandbox.info, "/_sandbox/flush");
    expect(hooks.at(path).map((r) => r.body)).toEqual(['{"n":1}', '{"n":2}']);
  });
});

describe("schedules", () => {
  it("creates, lists, fires on the cron, fires on demand, pauses, resumes and deletes", async () => {
    const startMs = Date.UTC(2030, 0, 2, 0, 0, 0);
    await control(sandbox.info, "/_sandbox/clock", { setMs: startMs });
    const path = hooks.path("cron");
    const { scheduleId } = await sandbox.client.schedules.create({
      destination: hooks.url(path),
      cron: "*/5 * * * *",
      body: JSON.stringify({ job: "drift-check" }),
      headers: { "Content-Type": "application/json" },
    });
    const listed = (await sandbox.client.schedules.list()).filter(
      (s) => s.scheduleId === scheduleId,
    );
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({
      cron: "*/5 * * * *",
      destination: hooks.url(path),
      isPaused: false,
      nextScheduleTime: startMs + 300_000,
    });
    expect((await sandbox.client.schedules.get(scheduleId)).body).toBe('{"job":"drift-check"}');

    const deliveriesAfter = async (advanceSeconds: number) => {
      await control(sandbox.info, "/_sandbox/clock", { advanceSeconds });
      return hooks.at(path).length;
    };
    expect(await deliveriesAfter(299)).toBe(0);
    expect(await deliveriesAfter(1)).toBe(1);
    expect(hooks.at(path)[0]?.headers["upstash-schedule-id"]).toBe(scheduleId);
    expect(hooks.at(path)[0]?.body).toBe('{"job":"drift-check"}');

    await control(sandbox.info, `/_sandbox/schedules/${scheduleId}/fire`);
    expect(hooks.at(path)).toHaveLength(2);

    await sandbox.client.schedules.pause({ schedule: scheduleId });
    expect(await deliveriesAfter(300)).toBe(2);
    await sandbox.client.schedules.resume({ schedule: scheduleId });
    expect(await deliveriesAfter(300)).toBe(3);

    await sandbox.client.schedules.delete(scheduleId);
    const remaining = await sandbox.client.schedules.list();
    expect(remaining.some((s) => s.scheduleId === scheduleId)).toBe(false);
    expect(await statusOf(sandbox.client.schedules.get(scheduleId))).toBe(404);
    expect(await deliveriesAfter(600)).toBe(3);
  });

  it("refuses an unreadable cron expression with 400", async () => {
    const status = await statusOf(
      sandbox.client.schedules.create({ destination: hooks.url("/x"), cron: "61 * * * *" }),
    );
    expect(status).toBe(400);
  });
});

describe("access and safety", () => {
  it("answers 401 to a wrong token and to no token", async () => {
    const stranger = new Client({ baseUrl: sandbox.info.url, token: "qstash_wrong", retry: false });
    expect(await statusOf(stranger.publishJSON({ url: hooks.url("/x"), body: {} }))).toBe(401);
    expect(await statusOf(stranger.schedules.list())).toBe(401);
    const bare = await fetch(`${sandbox.info.url}/_sandbox/flush`, { method: "POST" });
    expect(bare.status).toBe(401);
  });

  it("refuses destinations and callbacks that are not on loopback, without contacting them", async () => {
    const statuses = await Promise.all([
      statusOf(sandbox.client.publishJSON({ url: "https://example.com/hook", body: {} })),
      statusOf(
        sandbox.client.publishJSON({ url: "http://169.254.169.254/latest/meta-data", body: {} }),
      ),
      statusOf(sandbox.client.publishJSON({ url: "http://10.0.0.1:8080/x", body: {} })),
      statusOf(
        sandbox.client.publishJSON({
          url: hooks.url("/ok"),
          body: {},
          callback: "https://example.com/cb",
        }),
      ),
      statusOf(
        sandbox.client.schedules.create({
          destination: "https://example.com/x",
          cron: "* * * * *",
        }),
      ),
    ]);
    expect(statuses).toEqual([400, 400, 400, 400, 400]);
    await expect(
      sandbox.client.publishJSON({ url: "https://example.com/hook", body: {} }),
    ).rejects.toThrow(/not on loopback/);
  });

  it("serves the stack's own instance through the SDK with its announced token", async () => {
    const shared = inject("stack").qstash;
    const client = new Client({ baseUrl: shared.url, token: shared.token, retry: false });
    expect(Array.isArray(await client.schedules.list())).toBe(true);
    const stranger = new Client({ baseUrl: shared.url, token: "qstash_wrong", retry: false });
    expect(await statusOf(stranger.schedules.list())).toBe(401);
  });
});

describe("persistence", () => {
  it("keeps accepted messages, schedules, the DLQ, keys and the clock across a crash", async () => {
    const dataDir = join(root, "restart");
    const first = await startSandbox(dataDir);
    const frozenAtMs = Date.UTC(2030, 5, 1, 12, 0, 0);
    await control(first.info, "/_sandbox/clock", { setMs: frozenAtMs, frozen: true });

    const delayedPath = hooks.path("survives");
    const deadPath = hooks.path("dead-before-crash");
    hooks.answer(deadPath, { status: 500, body: "down" });
    const { messageId } = await first.client.publishJSON({
      url: hooks.url(delayedPath),
      body: { survives: "restart" },
      delay: "1h",
    });
    const { scheduleId } = await first.client.schedules.create({
      destination: hooks.url(hooks.path("nightly")),
      cron: "15 3 * * *",
    });
    const dead = await first.client.publishJSON({ url: hooks.url(deadPath), body: {}, retries: 0 });
    await control(first.info, "/_sandbox/flush");

    // SIGKILL: no shutdown hook runs, so only what was on disk before each answer survives.
    await first.service.stop("SIGKILL");
    const second = await startSandbox(dataDir);
    try {
      expect(second.info).toMatchObject({
        token: first.info.token,
        currentSigningKey: first.info.currentSigningKey,
        nextSigningKey: first.info.nextSigningKey,
      });
      const clock = await control<{ nowMs: number; frozen: boolean }>(
        second.info,
        "/_sandbox/clock",
      );
      expect(clock).toEqual({ nowMs: frozenAtMs, frozen: true });
      expect((await second.client.messages.get(messageId)).notBefore).toBe(frozenAtMs + 3_600_000);
      expect((await second.client.schedules.get(scheduleId)).cron).toBe("15 3 * * *");
      const dlq = await second.client.dlq.listMessages();
      expect(dlq.messages.map((m) => [m.messageId, m.responseStatus])).toEqual([
        [dead.messageId, 500],
      ]);

      await control(second.info, "/_sandbox/clock", { advanceSeconds: 3600 });
      const [request] = hooks.at(delayedPath) as [Received];
      expect(request.body).toBe('{"survives":"restart"}');
      const receiver = new Receiver({ ...second.info, devMode: false });
      await expect(
        receiver.verify({
          signature: signatureOf(request),
          body: request.body,
          url: hooks.url(delayedPath),
        }),
      ).resolves.toBe(true);
    } finally {
      await second.service.stop();
    }
  });
});
