/**
 * The deployment admission check: image and command patterns, resources against the plan,
 * regions, the free tier, and the policies it honours (throttle level, hard spend cap).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { seedMeters, testDb } from "../support/catalogue.ts";
import { call, callJson, unique } from "../support/http.ts";
import {
  accountKey,
  deployment,
  rulesOf,
  seedPaidPlan,
  seedRiskAccount,
  type Verdict,
  waitForLevel,
} from "./support.ts";

const TOKENS = unique("fraud-tokens");

beforeAll(async () => {
  await seedMeters([{ key: TOKENS, aggregation: "sum" }]);
});

function admit(body: Record<string, unknown>, key?: string): Promise<Verdict> {
  return callJson<Verdict>("/v1/risk/deployments", 200, {
    body,
    ...(key === undefined ? {} : { key }),
  });
}

describe("a free-tier account", () => {
  it("is admitted within the free limits", async () => {
    const accountId = await seedRiskAccount();
    const verdict = await admit(deployment(accountId));
    expect([verdict.decision, verdict.score, verdict.reasons]).toEqual(["allow", 0, []]);
  });

  it("is challenged for a GPU and for resources beyond the free tier", async () => {
    const accountId = await seedRiskAccount();
    const gpu = await admit(
      deployment(accountId, { resources: { vcpus: 1, memoryMb: 512, gpus: 1, instances: 1 } }),
    );
    expect([gpu.decision, rulesOf(gpu)]).toEqual(["challenge", ["gpu_on_free_tier:40"]]);
    const big = await admit(
      deployment(accountId, {
        resources: { vcpus: 8, memoryMb: 4096, gpus: 0, instances: 1 },
        regions: ["iad", "fra", "sin"],
      }),
    );
    expect([big.decision, rulesOf(big)]).toEqual([
      "review",
      ["resources_over_plan:40", "many_regions:20"],
    ]);
    expect(big.reasons[0]?.detail).toBe(
      "requested beyond the plan: vcpus 8 > 1, memoryMb 4096 > 1024",
    );
  });

  it("is denied a miner image, and the attempt limits the account", async () => {
    const accountId = await seedRiskAccount();
    const verdict = await admit(
      deployment(accountId, {
        image: "docker.io/someone/xmrig:6.21",
        command: ["./xmrig", "-o", "stratum+tcp://pool.example:3333", "--donate-level", "1"],
      }),
    );
    expect([verdict.decision, verdict.score, rulesOf(verdict), verdict.level]).toEqual([
      "deny",
      100,
      ["miner_image:90", "miner_command:90"],
      "normal",
    ]);
    // The attempt is a signal: the work queue moves the account up after the response.
    const status = await waitForLevel(accountId, "limited");
    expect(status.signals.map((s) => s.kind)).toEqual(["deployment.miner"]);
    // Limited: the next (innocent) deployment needs review.
    const next = await admit(deployment(accountId));
    expect([next.decision, rulesOf(next)]).toEqual(["review", ["account_limited:0"]]);
  });
});

describe("a paying account", () => {
  it("is held to its plan's regions", async () => {
    const planId = await seedPaidPlan();
    const db = testDb();
    await db.query(
      `update plans set deployment_limits = deployment_limits || '{"regions": ["iad", "fra"]}'
        where id = $1`,
      [planId],
    );
    await db.end();
    const accountId = await seedRiskAccount({ planId });
    const verdict = await admit(deployment(accountId, { regions: ["fra", "syd"] }));
    expect([verdict.decision, rulesOf(verdict)]).toEqual(["challenge", ["region_not_allowed:30"]]);
  });

  it("is denied once its hard spend cap is reached", async () => {
    const planId = await seedPaidPlan({ [TOKENS]: { model: "per_unit", unitPrice: "1" } });
    const accountId = await seedRiskAccount({ planId, budget: "5", hardCap: true });
    const before = await admit(deployment(accountId));
    expect([before.decision, rulesOf(before)]).toEqual(["allow", []]);
    await callJson("/v1/events", 202, {
      body: [{ account: accountId, id: "t1", meter: TOKENS, value: "6" }],
    });
    const after = await admit(deployment(accountId));
    expect([after.decision, after.score, rulesOf(after)]).toEqual(["deny", 0, ["spend_capped:0"]]);
  });
});

describe("access", () => {
  it("an account key may ask for its own account only", async () => {
    const mine = await seedRiskAccount();
    const other = await seedRiskAccount();
    const key = await accountKey(mine);
    const own = await admit(deployment(mine), key);
    expect(own.decision).toBe("allow");
    const response = await call("/v1/risk/deployments", { key, body: deployment(other) });
    expect(response.status).toBe(404);
    expect((await call("/v1/risk/deployments", { key: null, body: deployment(mine) })).status).toBe(
      401,
    );
    const revoked = `${key.slice(0, -4)}aaaa`;
    expect(
      (await call("/v1/risk/deployments", { key: revoked, body: deployment(mine) })).status,
    ).toBe(401);
  });

  it("an unknown account is 404", async () => {
    const response = await call("/v1/risk/deployments", { body: deployment(unique("nobody")) });
    expect(response.status).toBe(404);
  });
});
