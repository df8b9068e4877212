import { expect } from "vitest";
import { type CallOptions, call, callJson, unique } from "../support/http.ts";

/** A problem document as the API returns it. */
export interface Problem {
  status: number;
  code: string;
  detail: string;
  errors?: { field: string; code: string; detail: string }[];
}

/** Calls and asserts a problem response with this status and code; returns the document. */
export async function expectProblem(
  path: string,
  status: number,
  code: string,
  options: CallOptions = {},
): Promise<Problem> {
  const response = await call(path, options);
  const text = await response.text();
  expect(response.status, text).toBe(status);
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  const problem = JSON.parse(text) as Problem;
  expect(problem.code).toBe(code);
  return problem;
}

/** The `{ field, code }` pairs of a 422, in the order reported. */
export async function fieldErrors(
  path: string,
  options: CallOptions,
): Promise<{ field: string; code: string }[]> {
  const problem = await expectProblem(path, 422, "VALIDATION_FAILED", options);
  return (problem.errors ?? []).map(({ field, code }) => ({ field, code }));
}

export interface MeterJson {
  key: string;
  name: string;
  aggregation: string;
  unit: string;
  groupBy: string[];
  revision: number;
  [field: string]: unknown;
}

/** Creates a meter through the API (a sum meter of a fresh key unless told otherwise). */
export async function createMeter(fields: Record<string, unknown> = {}): Promise<MeterJson> {
  return callJson<MeterJson>("/v1/meters", 201, {
    body: { key: unique("m"), aggregation: "sum", unit: "unit", ...fields },
  });
}

export interface PlanVersionJson {
  id: string;
  version: number;
  effectiveFrom: string;
  currency: string;
  baseFee: string;
  prices: Record<string, unknown>;
}

export interface PlanJson {
  id: string;
  key: string;
  name: string;
  currency: string;
  versions: PlanVersionJson[];
}

/** Creates a plan through the API with one version (USD, effective now unless told). */
export async function createPlan(
  version: Record<string, unknown>,
  fields: Record<string, unknown> = {},
): Promise<PlanJson> {
  return callJson<PlanJson>("/v1/plans", 201, {
    body: {
      key: unique("plan"),
      name: "Test plan",
      versions: [{ currency: "USD", prices: {}, ...version }],
      ...fields,
    },
  });
}

export interface AccountJson {
  id: string;
  currency: string;
  planId: string | null;
  planSchedule: { planId: string; effectiveFrom: string }[];
  configRevision: number;
  [field: string]: unknown;
}

/** Creates an account through the API (USD, UTC, monthly on the 1st unless told). */
export async function createAccount(fields: Record<string, unknown> = {}): Promise<AccountJson> {
  return callJson<AccountJson>("/v1/accounts", 201, {
    body: {
      id: unique("acct"),
      name: "Test account",
      currency: "USD",
      timeZone: "UTC",
      billingInterval: { unit: "month", count: 1, anchorDay: 1 },
      ...fields,
    },
  });
}

/** A whole-second instant `seconds` from now, as ISO text: far enough for the lead time. */
export function secondsFromNow(seconds: number): string {
  return new Date(Math.ceil((Date.now() + seconds * 1000) / 1000) * 1000).toISOString();
}

/** A five-tier graduated price, the shape the brief's benchmarks and examples use. */
export const FIVE_TIERS = {
  model: "graduated",
  tiers: [
    { upTo: "10000", unitPrice: "0.002" },
    { upTo: "100000", unitPrice: "0.0015" },
    { upTo: "1000000", unitPrice: "0.001", flatFee: "5" },
    { upTo: "10000000", unitPrice: "0.0005" },
    { upTo: null, unitPrice: "0.00025" },
  ],
};

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

/** Pages through a list with `limit` and returns every page's items, in order. */
export async function pageThrough<T>(path: string, limit: number): Promise<T[][]> {
  const pages: T[][] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`;
    const page: Page<T> = await callJson<Page<T>>(`${path}?limit=${limit}${query}`, 200);
    expect(page.data.length).toBeLessThanOrEqual(limit);
    pages.push(page.data);
    cursor = page.next_cursor;
  } while (cursor !== null);
  return pages;
}
