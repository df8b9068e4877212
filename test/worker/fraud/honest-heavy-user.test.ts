/**
 * The honest heavy user: a paying account sending high, bursty usage through its own key, with
 * hours of bursty multi-vCPU load and large deployments within its plan. It is never throttled:
 * every request is accepted, no signal is raised, and it stays normal with score 0.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import type { AccountMeter } from "../../../durable-objects/account-meter.ts";
import { FixedClock } from "../../../lib/clock/clock.ts";
import { seedMeters } from "../support/catalogue.ts";
import { call, callJson, unique } from "../support/http.ts";
import {
  accountKey,
  deployment,
  riskStatus,
  rulesOf,
  seedPaidPlan,
  seedRiskAccount,
  type Verdict,
} from "./support.ts";

const CPU = unique("heavy-cpu");
const CALLS = unique("heavy-calls");
const MINUTE = 60_000;

beforeAll(async () => {
  await seedMeters([
    {
      key: CPU,
      aggregation: "time_weighted",
      unit: "vcpu",
      seriesProperty: "deployment",
      heartbeatTimeoutSeconds: 180,
    },
    { key: CALLS, aggregation: "sum" },
  ]);
});

describe("a paying account with high, bursty usage", () => {
  it("is never throttled", async () => {
    const accountId = await seedRiskAccount({ planId: await seedPaidPlan() });
    const key = await accountKey(accountId);
    const nowMs = Math.floor(Date.now() / MINUTE) * MINUTE;
    const meter = env.ACCOUNT_METER.get(env.ACCOUNT_METER.idFromName(accountId));
    await runInDurableObject(meter, (instance: AccountMeter) => {
      instance.clock = new FixedClock(nowMs);
    });

    // Four hours of CPU across eight deployments, bursting together between 2 and 16 vCPU.
    const samples = [];
    for (let minute = 0; minute <= 240; minute += 1) {
      for (let d = 0; d < 8; d += 1) {
        const burst = (minute + d) % 30 < 12;
        samples.push({
          id: `cpu-${minute}-${d}`,
          meter: CPU,
          value: burst ? "2" : "0.25",
          time: new Date(nowMs - (240 - minute) * MINUTE).toISOString(),
          properties: { deployment: `d${d}` },
        });
      }
    }
    const cpu = await call("/v1/events", { key, body: samples });
    expect(cpu.status).toBe(202);

    // Three bursts of 100 requests of API-call usage (300 requests, 30,000 events) at once.
    const statuses = new Map<number, number>();
    const limits = new Set<string | null>();
    for (let burst = 0; burst < 3; burst += 1) {
      const responses = await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          call("/v1/events", {
            key,
            body: Array.from({ length: 100 }, (_, j) => ({
              id: `call-${burst}-${i}-${j}`,
              meter: CALLS,
              value: "1",
              time: new Date(nowMs - 1000).toISOString(),
            })),
          }),
        ),
      );
      for (const response of responses) {
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        limits.add(response.headers.get("ratelimit-limit"));
      }
    }
    expect([...statuses]).toEqual([[202, 300]]);
    // The standard tier throughout (a check that misses its 1 s deadline under a loaded test
    // machine lets the request through without headers: null).
    expect([...limits].filter((limit) => limit !== null)).toEqual(["1200"]);

    // The meter screens its CPU usage: bursty load is not the mining shape.
    await runDurableObjectAlarm(meter);
    const screened = await runInDurableObject(meter, (instance: AccountMeter) =>
      instance.sql
        .exec<{ value: string }>("SELECT value FROM meta WHERE key = 'risk_screened_ms'")
        .toArray(),
    );
    expect(screened).toEqual([{ value: String(nowMs) }]);

    // Large deployments within the plan are admitted.
    const admission = await callJson<Verdict>("/v1/risk/deployments", 200, {
      key,
      body: deployment(accountId, {
        image: "ghcr.io/acme/trainer:7",
        command: ["python", "train.py", "--epochs", "40"],
        resources: { vcpus: 32, memoryMb: 131_072, gpus: 4, instances: 20 },
        regions: ["iad", "fra", "sin", "gru"],
      }),
    });
    expect([admission.decision, admission.score, rulesOf(admission)]).toEqual(["allow", 0, []]);

    const status = await riskStatus(accountId);
    expect([status.level, status.score, status.signals, status.transitions]).toEqual([
      "normal",
      0,
      [],
      [],
    ]);
  });
});
