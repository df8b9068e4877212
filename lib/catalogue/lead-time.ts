/**
 * How far ahead a plan version or plan switch must be scheduled: at least this many seconds
 * after it is made. The catalogue pushes every change to the affected account meters at once,
 * and each meter also revalidates its cached configuration at least every 60 seconds while it
 * is active, so by the time a change applies every meter has learned it, even one that missed
 * the push (see docs/catalogue.md, "No stale prices"). Five revalidation intervals of margin.
 */
export const CATALOGUE_LEAD_SECONDS = 300;

/**
 * The earliest instant (epoch ms, a whole second) a change made at `nowMs` may take effect:
 * `nowMs + CATALOGUE_LEAD_SECONDS`, rounded up to the next whole second.
 */
export function earliestEffectiveMs(nowMs: number): number {
  return Math.ceil((nowMs + CATALOGUE_LEAD_SECONDS * 1000) / 1000) * 1000;
}
