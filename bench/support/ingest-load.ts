/**
 * Concurrent producers in the ingestion benchmark's batched phases. Twelve keeps workerd's
 * thread busy while some meters wait on their disk commits; six left it idle part of the time
 * (27.1k vs 28.4-30.8k events/s on the development machine, at p50 129 vs 265-270 ms); sixteen
 * added latency, not throughput (29.1k, p50 365 ms).
 */
export const BATCH_CONNECTIONS = 12;

/**
 * Concurrent producers in the single-event phases: 48 reached 635 requests/s where 24 reached
 * 440-460 (p50 66 vs 40-45 ms); 64 did no better (574).
 */
export const SINGLE_CONNECTIONS = 48;
