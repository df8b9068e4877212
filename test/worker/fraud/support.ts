import { env } from "cloudflare:workers";
import domains from "disposable-email-domains";
import { expect, vi } from "vitest";
import { openRedis } from "../../../lib/adapters/redis.ts";
import { REDIS_KEYS } from "../../../lib/fraud/keys.ts";
import { seedAccount, seedPlan, testDb } from "../support/catalogue.ts";
import { callJson, unique } from "../support/http.ts";

/** Helpers shared by the fraud scenario tests. Every test uses fresh ids, cards and devices. */

export const redis = openRedis({
  url: env.UPSTASH_REDIS_REST_URL,
  token: env.UPSTASH_REDIS_REST_TOKEN,
});

/** Loads the real disposable-domain list once per stack (other files may already have). */
export async function ensureDisposableDomains(): Promise<void> {
  if ((await redis.scard(REDIS_KEYS.disposableDomains)) > 100_000) {
    return;
  }
  const loaded = await callJson<{ count: number }>("/v1/risk/disposable-domains", 200, {
    method: "PUT",
    body: domains,
  });
  expect(loaded.count).toBeGreaterThan(100_000);
}

export interface RiskStatusView {
  accountId: string;
  level: string;
  score: number;
  reasons: { rule: string; points: number; detail: string }[];
  restrictions: { rateTier: string; deployments: string; usageAccepted: boolean };
  transitions: {
    id: string;
    action: string;
    actor: string;
    reason: string;
    from: string | null;
    to: string | null;
    reasons: { rule: string; points: number }[];
  }[];
  signals: { kind: string; sourceId: string; evidence: Record<string, unknown> }[];
  decisions: { action: string; decision: string | null; score: number | null }[];
}

export function riskStatus(accountId: string): Promise<RiskStatusView> {
  return callJson<RiskStatusView>(`/v1/accounts/${accountId}/risk`, 200);
}

/** Waits (polling, no sleeps) until the account reaches `level`; queue work is asynchronous. */
export async function waitForLevel(accountId: string, level: string): Promise<RiskStatusView> {
  return vi.waitFor(
    async () => {
      const status = await riskStatus(accountId);
      expect(status.level).toBe(level);
      return status;
    },
    { timeout: 20_000, interval: 100 },
  );
}

export interface Verdict {
  decisionId: string;
  score: number;
  decision: string;
  reasons: { rule: string; points: number; detail: string; atLeast?: string }[];
  level: string;
  configVersion: number;
}

/** Rules of a verdict as `rule:points`, in the order the engine reports them. */
export function rulesOf(verdict: { reasons: { rule: string; points: number }[] }): string[] {
  return verdict.reasons.map((r) => `${r.rule}:${r.points}`);
}

/** A paying plan (not free tier) with generous deployment limits. */
export async function seedPaidPlan(prices: Record<string, unknown> = {}): Promise<string> {
  const planId = unique("plan-pro");
  await seedPlan(planId, [
    { id: unique("planv"), effectiveFrom: "2000-01-01T00:00:00Z", baseFee: "49", prices },
  ]);
  const db = testDb();
  try {
    await db.query("update plans set deployment_limits = $2 where id = $1", [
      planId,
      JSON.stringify({ maxVcpus: 64, maxMemoryMb: 262_144, maxGpus: 8, maxInstances: 100 }),
    ]);
  } finally {
    await db.end();
  }
  return planId;
}

/** An account, optionally on a plan, whose ladder notifications go to `notificationUrl`. */
export async function seedRiskAccount(
  options: { planId?: string; notificationUrl?: string; hardCap?: boolean; budget?: string } = {},
): Promise<string> {
  const id = unique("acct-risk");
  await seedAccount({
    id,
    ...(options.planId ? { planId: options.planId } : {}),
    ...(options.budget ? { spendBudget: options.budget, hardCap: options.hardCap ?? false } : {}),
  });
  if (options.notificationUrl) {
    const db = testDb();
    try {
      await db.query("update accounts set notification_url = $2 where id = $1", [
        id,
        options.notificationUrl,
      ]);
    } finally {
      await db.end();
    }
  }
  return id;
}

/** Creates an API key for the account through the admin API. */
export async function accountKey(accountId: string): Promise<string> {
  const created = await callJson<{ key: string }>(`/v1/accounts/${accountId}/api-keys`, 201, {
    body: { name: "fraud-test" },
  });
  return created.key;
}

/** Records a signal through the admin endpoint. */
export function postSignal(body: Record<string, unknown>) {
  return callJson<{
    status: string;
    signalId: string;
    level: string;
    score: number;
    transitionId: string | null;
  }>("/v1/risk/signals", 200, { body });
}

/** A deployment admission request with sensible defaults. */
export function deployment(accountId: string, overrides: Record<string, unknown> = {}) {
  return {
    accountId,
    deploymentId: unique("dep"),
    image: "ghcr.io/acme/api:1.4.2",
    command: ["node", "server.js"],
    resources: { vcpus: 1, memoryMb: 512, gpus: 0, instances: 1 },
    regions: ["iad"],
    ...overrides,
  };
}

interface PulledDelivery {
  messageId: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

async function sandbox<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${env.QSTASH_URL}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${env.QSTASH_TOKEN}`,
      "content-type": "application/json",
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as T;
}

/**
 * A URL prefix held by the QStash sandbox (pull mode): notifications published to it wait for
 * the test to pull them. The Worker under test has no HTTP port to deliver to.
 */
export async function heldNotificationUrl(name: string): Promise<string> {
  const urlPrefix = `http://localhost/risk-notify/${name}/${crypto.randomUUID()}/`;
  await sandbox("POST", "/_sandbox/holds", { urlPrefix });
  return urlPrefix;
}

/** Pulls (and acknowledges) what QStash holds for `urlPrefix`. */
export async function pullNotifications(
  urlPrefix: string,
): Promise<{ body: Record<string, unknown>; headers: Record<string, string> }[]> {
  const deliveries = await sandbox<PulledDelivery[]>(
    "GET",
    `/_sandbox/deliveries?urlPrefix=${encodeURIComponent(urlPrefix)}`,
  );
  for (const delivery of deliveries) {
    await sandbox("POST", `/_sandbox/deliveries/${delivery.messageId}/result`, {
      status: 200,
      body: "",
    });
  }
  return deliveries.map((d) => ({
    body: JSON.parse(d.body) as Record<string, unknown>,
    headers: d.headers,
  }));
}

/** Releases a held prefix at the end of a test. */
export async function releaseNotificationUrl(urlPrefix: string): Promise<void> {
  await sandbox("DELETE", `/_sandbox/holds?urlPrefix=${encodeURIComponent(urlPrefix)}`);
}
