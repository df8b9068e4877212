import type { Database } from "../adapters/postgres.ts";
import { AppError, type FieldError } from "../errors/index.ts";
import { type RunDeps, type RunRequest, type RunResult, runInvoiceRun } from "./invoice-run.ts";
import type { Publisher } from "./notify.ts";
import { notifyOverdueInvoices, type OverdueResult } from "./overdue.ts";

/** What the hourly billing job (cron or QStash schedule) did. */
export interface BillingHourResult extends RunResult {
  /** Null for a run restricted to some accounts: the overdue scan belongs to full runs. */
  overdue: OverdueResult | null;
}

/**
 * The hourly billing job: the invoice run, then (for a full run) the overdue scan. Cloudflare
 * cron, a QStash schedule and the admin endpoint all come here, so whichever fires, the same
 * work happens, and firing twice is harmless (see runInvoiceRun).
 */
export async function runBillingHour(
  deps: RunDeps & { db: Database; publisher: Publisher },
  request: RunRequest,
): Promise<BillingHourResult> {
  const run = await runInvoiceRun(deps, request);
  const overdue =
    request.accountIds === undefined
      ? await notifyOverdueInvoices({
          db: deps.db,
          publisher: deps.publisher,
          ids: deps.ids,
          log: deps.log,
          nowMs: deps.clock.nowMs(),
        })
      : null;
  return { ...run, overdue };
}

/**
 * Reads a run request body (`{ at?, accounts?, graceSeconds? }`, all optional): `at` an RFC 3339
 * instant no later than now (closing a period before it ends would seal it early), `accounts` up
 * to 1,000 ids, `graceSeconds` 0–604,800 (default: the configured grace). Throws
 * VALIDATION_FAILED naming every bad field.
 */
export function parseRunRequest(
  body: unknown,
  defaults: { nowMs: number; graceSeconds: number },
): Omit<RunRequest, "trigger"> {
  const input = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  const errors: FieldError[] = [];
  let asOfMs = defaults.nowMs;
  if (input.at !== undefined) {
    const ms = typeof input.at === "string" ? Date.parse(input.at) : Number.NaN;
    if (typeof input.at !== "string" || !/(Z|[+-]\d\d:\d\d)$/i.test(input.at) || Number.isNaN(ms)) {
      errors.push({ field: "/at", code: "invalid_instant", detail: "an RFC 3339 instant" });
    } else if (ms > defaults.nowMs) {
      errors.push({
        field: "/at",
        code: "in_future",
        detail: "a run may not close periods before they end; use an instant up to now",
      });
    } else {
      asOfMs = ms;
    }
  }
  let accountIds: string[] | undefined;
  if (input.accounts !== undefined) {
    const list = input.accounts;
    if (
      !Array.isArray(list) ||
      list.length === 0 ||
      list.length > 1000 ||
      !list.every((id) => typeof id === "string" && id.length > 0 && id.length <= 200)
    ) {
      errors.push({ field: "/accounts", code: "invalid_value", detail: "1 to 1,000 account ids" });
    } else {
      accountIds = list as string[];
    }
  }
  let graceSeconds = defaults.graceSeconds;
  if (input.graceSeconds !== undefined) {
    const grace = input.graceSeconds;
    if (typeof grace !== "number" || !Number.isInteger(grace) || grace < 0 || grace > 604_800) {
      errors.push({ field: "/graceSeconds", code: "out_of_range", detail: "0 to 604800" });
    } else {
      graceSeconds = grace;
    }
  }
  if (errors.length > 0) {
    throw new AppError("VALIDATION_FAILED", "The run request is invalid", {
      detail: errors.map((e) => `${e.field}: ${e.detail}`).join("; "),
      fieldErrors: errors,
    });
  }
  return { asOfMs, graceSeconds, ...(accountIds ? { accountIds } : {}) };
}
