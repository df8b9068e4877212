import type { RatedUsageMessage } from "./rated-usage-message.ts";

/**
 * Rows per ClickHouse insert the consumer aims for at most. A queue batch holds up to 100
 * messages of ≤ 96 KB, usually tens of thousands of rows, so a whole batch normally travels in
 * one insert per table; the cap bounds memory and request size if batches grow.
 */
export const MAX_ROWS_PER_INSERT = 50_000;

/** Rows one message adds to ClickHouse (raw events plus rated records). */
export function rowsOf(message: RatedUsageMessage): number {
  return message.events.length + message.records.length;
}

/**
 * Packs messages, in batch-id order, into consecutive groups of at most `maxRows` rows each (a
 * single larger message gets a group to itself). Batch-id order makes the grouping, and so the
 * insert-deduplication token, the same whenever the same messages arrive together. Pure.
 */
export function packMessages(
  messages: readonly RatedUsageMessage[],
  maxRows: number = MAX_ROWS_PER_INSERT,
): RatedUsageMessage[][] {
  const ordered = [...messages].sort((a, b) =>
    a.batchId < b.batchId ? -1 : a.batchId > b.batchId ? 1 : 0,
  );
  const groups: RatedUsageMessage[][] = [];
  let current: RatedUsageMessage[] = [];
  let rows = 0;
  for (const message of ordered) {
    const size = rowsOf(message);
    if (current.length > 0 && rows + size > maxRows) {
      groups.push(current);
      current = [];
      rows = 0;
    }
    current.push(message);
    rows += size;
  }
  if (current.length > 0) {
    groups.push(current);
  }
  return groups;
}
