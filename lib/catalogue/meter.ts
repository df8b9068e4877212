/** How a meter turns a period's events into one quantity. */
export const AGGREGATIONS = [
  "sum",
  "count",
  "max",
  "unique_count",
  "latest",
  "time_weighted",
] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

/**
 * A meter definition: platform-wide, shared by every account. `aggregation`, `valueProperty`,
 * `seriesProperty` and `allowNegative` never change once events exist (a new meter is made
 * instead); names, units, descriptions and `groupBy` may.
 */
export interface MeterDefinition {
  key: string;
  name: string;
  aggregation: Aggregation;
  unit: string;
  /**
   * Property that carries the value when the event has no `value` (CloudEvents put everything in
   * `data`). For unique_count it names the property whose distinct values are counted.
   */
  valueProperty: string | null;
  /** time_weighted: property naming the series (e.g. the deployment) a level sample belongs to. */
  seriesProperty: string | null;
  /** time_weighted: a series silent for longer than this is closed at its last sample. */
  heartbeatTimeoutSeconds: number | null;
  allowNegative: boolean;
  /** Properties the account meter keeps per-value totals for (usage breakdowns), at most 5. */
  groupBy: string[];
}

/** Whether events of this meter must carry a decimal value. */
export function needsDecimalValue(aggregation: Aggregation): boolean {
  return (
    aggregation === "sum" ||
    aggregation === "max" ||
    aggregation === "latest" ||
    aggregation === "time_weighted"
  );
}

/** Aggregations whose period quantity is a sum of per-event contributions. */
export function isAdditive(aggregation: Aggregation): boolean {
  return aggregation === "sum" || aggregation === "count" || aggregation === "time_weighted";
}
