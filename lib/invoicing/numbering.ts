import type { Queryable } from "../adapters/postgres.ts";
import { AppError } from "../errors/index.ts";

/** Number series: invoices and credit notes count separately. */
export type NumberSeries = "INV" | "CN";

/** `INV-000042`: the series, a dash and the number, zero-padded to six digits (wider if needed). */
export function formatDocumentNumber(series: NumberSeries, n: bigint): string {
  return `${series}-${n.toString().padStart(6, "0")}`;
}

/**
 * Takes the next number of `series` inside the caller's transaction. The single UPDATE locks the
 * series row until that transaction ends, so concurrent finalizations queue here and numbers are
 * handed out in commit order; a transaction that rolls back releases its number to the next
 * taker, which is what keeps the series gapless. Take it as late as possible in the transaction:
 * the lock serialises every finalization in the series while held.
 */
export async function takeDocumentNumber(tx: Queryable, series: NumberSeries): Promise<string> {
  const { rows } = await tx.query<{ taken: string }>(
    `update invoice_number_series set next_number = next_number + 1
      where series = $1 returning (next_number - 1)::text as taken`,
    [series],
  );
  const taken = rows[0]?.taken;
  if (taken === undefined) {
    throw new AppError("INTERNAL", `Number series ${series} does not exist`, {
      detail: "The billing migration seeds the INV and CN series; run the migrations.",
    });
  }
  return formatDocumentNumber(series, BigInt(taken));
}
