/** The report `npm start` ends with: human-readable on stderr+stdout, one JSON line with --json. */
import type { Attempt, Invoice } from "./cycle.ts";
import type { DemoAccount } from "./demo-catalogue.ts";
import type { Notification } from "./environment.ts";
import type { ReplayResult } from "./replay.ts";
import type { Mismatch } from "./verify.ts";
import type { Workload } from "./workload.ts";

export interface Report {
  workload: Workload;
  accounts: DemoAccount[];
  replay: ReplayResult;
  pipeline: { seconds: number; drained: boolean };
  cycle: { outcome: string; seconds: number; complete: boolean };
  details: Map<string, { invoice: Invoice; attempts: Attempt[] }>;
  notifications: Notification[];
  verification: { mismatches: Mismatch[]; checks: number } | null;
  url: string;
  adminKey: string;
  stripeCustomers: Record<string, string>;
}

const MINOR_DIGITS: Record<string, number> = { USD: 2, EUR: 2 };

function money(minor: string, currency: string): string {
  const digits = MINOR_DIGITS[currency] ?? 2;
  const value = BigInt(minor);
  const sign = value < 0n ? "-" : "";
  const abs = value < 0n ? -value : value;
  const unit = 10n ** BigInt(digits);
  const whole = (abs / unit).toLocaleString("en-US");
  const fraction = (abs % unit).toString().padStart(digits, "0");
  return `${currency} ${sign}${whole}${digits > 0 ? `.${fraction}` : ""}`;
}

function n(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}

/** Prints the report; returns the number of verification mismatches. */
export function printReport(report: Report, options: { json: boolean }): number {
  const out = (line = "") => process.stdout.write(`${line}\n`);
  const { replay, workload } = report;
  const invoices = [...report.details.values()];
  const succeeded = invoices.filter((d) => d.attempts.some((a) => a.status === "succeeded")).length;
  const mismatches = report.verification?.mismatches.length ?? 0;

  out();
  out("meterline — replay report");
  out(
    `  source         ${workload.kind === "trace" ? workload.description : `${workload.description} (no trace found)`}`,
  );
  out(
    `  events         sent ${n(replay.sent)} · accepted ${n(replay.accepted)} · duplicates ${n(replay.duplicates)} · rejected ${n(replay.rejected)}`,
  );
  out(
    `  throughput     ${n(replay.eventsPerSecond)} events/s over ${replay.seconds.toFixed(1)} s (client: batches of 500, 6 in flight, gzip)`,
  );
  out(
    `  pipeline       ${report.pipeline.drained ? "in sync" : "NOT in sync"} ${report.pipeline.seconds.toFixed(1)} s after the replay (account meters = Postgres = ClickHouse)`,
  );
  if (replay.chaos.lostResponses + replay.chaos.resent + replay.chaos.workerRestarts > 0) {
    out(
      `  chaos          ${replay.chaos.lostResponses} responses lost (${n(replay.chaos.lostResponseEvents)} events retried) · ${n(replay.chaos.resent)} events resent · Worker restarted ${replay.chaos.workerRestarts}× · ClickHouse down ${replay.chaos.clickhouseOutageSeconds} s · one Stripe answer lost after a charge`,
    );
  }
  out(
    `  invoice cycle  cron handler ${report.cycle.outcome}; invoices ${report.cycle.complete ? "finalized and collected" : "INCOMPLETE"} ${report.cycle.seconds.toFixed(1)} s later`,
  );
  out();
  out("  account        day         invoice      lines  total            due              status");
  for (const account of report.accounts) {
    const detail = report.details.get(account.id);
    if (!detail) {
      out(`  ${account.id.padEnd(14)} ${workload.days[account.id] ?? ""}  (no invoice)`);
      continue;
    }
    const { invoice, attempts } = detail;
    const payment = attempts.find((a) => a.status === "succeeded");
    const status =
      invoice.collectionMethod === "send_invoice"
        ? `${invoice.status} (net terms, due ${invoice.dueAt?.slice(0, 10) ?? "?"})`
        : payment
          ? `${invoice.status} (${payment.paymentIntentId})`
          : invoice.status;
    out(
      `  ${account.id.padEnd(14)} ${(workload.days[account.id] ?? "").padEnd(11)} ${(invoice.number ?? "-").padEnd(12)} ${String(invoice.lines?.length ?? 0).padStart(5)}  ${money(invoice.totalMinor, invoice.currency).padEnd(16)} ${money(invoice.amountDueMinor, invoice.currency).padEnd(16)} ${status}`,
    );
  }
  out();
  const first = invoices[0]?.invoice;
  if (first?.lines) {
    out(`  lines of ${first.number} (${first.accountId}):`);
    for (const line of first.lines) {
      out(
        `    ${line.description.padEnd(44)} ${(line.quantity ?? "").padStart(12)} × ${(line.unitPrice ?? "").padEnd(10)} = ${money(line.amountMinor, first.currency)}`,
      );
    }
    out();
  }
  const kinds = new Map<string, number>();
  for (const notification of report.notifications) {
    const body = notification.body as { type?: string; kind?: string } | null;
    const kind = body?.type ?? body?.kind ?? "notification";
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  out(
    `  payments       ${succeeded} succeeded${report.verification ? "" : ""} · notifications received: ${[...kinds].map(([k, c]) => `${k} ×${c}`).join(", ") || "none"}`,
  );
  out();
  out("  where to look");
  out(`    dashboard    ${report.url}/dashboard   (admin key ${report.adminKey})`);
  for (const { invoice } of invoices.slice(0, 3)) {
    out(`    invoice      ${report.url}/v1/invoices/${invoice.id}.html`);
  }
  out(`    API          ${report.url}/openapi.json`);
  if (report.verification) {
    out();
    out(`  verify         ${report.verification.checks} checks, ${mismatches} mismatches`);
    for (const m of report.verification.mismatches) {
      out(
        `    MISMATCH ${m.account ? `${m.account}: ` : ""}${m.what}: expected ${m.expected}, got ${m.actual}`,
      );
    }
  }
  if (options.json) {
    out(
      JSON.stringify({
        source: workload.kind,
        events_sent: replay.sent,
        events_accepted: replay.accepted,
        duplicates: replay.duplicates,
        rejected: replay.rejected,
        invoices: invoices.length,
        payments_succeeded: succeeded,
        mismatches,
        events_per_second: Math.round(replay.eventsPerSecond),
        pipeline_lag_seconds: Number(report.pipeline.seconds.toFixed(1)),
        invoice_cycle_seconds: Number(report.cycle.seconds.toFixed(1)),
        verified: report.verification !== null,
        chaos: replay.chaos,
        accounts: invoices.map(({ invoice }) => ({
          account: invoice.accountId,
          invoice: invoice.number,
          total_minor: invoice.totalMinor,
          amount_due_minor: invoice.amountDueMinor,
          currency: invoice.currency,
          status: invoice.status,
        })),
      }),
    );
  }
  return mismatches;
}
