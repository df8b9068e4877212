/**
 * The `meterline-invoice-jobs` message: close one account's billing period. Versioned; a
 * consumer drops (after logging) bodies it cannot read, since retrying cannot fix them and the
 * hourly run re-enqueues every period still open anyway.
 */
export interface InvoiceJobMessage {
  v: 1;
  kind: "invoice.close_period";
  accountId: string;
  periodStartMs: number;
  periodEndMs: number;
  /** The run that enqueued it, for tracing; null when enqueued by a job catching up. */
  runId: string | null;
  /**
   * The run's "as of" instant less the grace: periods ending at or before it are due. A job that
   * closed its period enqueues the next one when that one is due too (catching up).
   */
  dueByMs: number;
}

/** Reads a queue body as an InvoiceJobMessage, or null when it is not one. */
export function parseInvoiceJob(body: unknown): InvoiceJobMessage | null {
  if (typeof body !== "object" || body === null) {
    return null;
  }
  const m = body as Record<string, unknown>;
  const integer = (value: unknown): value is number =>
    typeof value === "number" && Number.isSafeInteger(value);
  if (
    m.v !== 1 ||
    m.kind !== "invoice.close_period" ||
    typeof m.accountId !== "string" ||
    m.accountId.length === 0 ||
    !integer(m.periodStartMs) ||
    !integer(m.periodEndMs) ||
    m.periodEndMs <= m.periodStartMs ||
    !integer(m.dueByMs) ||
    (m.runId !== null && typeof m.runId !== "string")
  ) {
    return null;
  }
  return {
    v: 1,
    kind: "invoice.close_period",
    accountId: m.accountId,
    periodStartMs: m.periodStartMs,
    periodEndMs: m.periodEndMs,
    runId: m.runId as string | null,
    dueByMs: m.dueByMs,
  };
}

/** `payment.collect` on the WORK queue, for the payments consumer (deduplicated by invoice). */
export interface PaymentCollectMessage {
  v: 1;
  kind: "payment.collect";
  invoiceId: string;
}
