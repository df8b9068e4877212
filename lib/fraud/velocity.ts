import type { Redis } from "../adapters/redis.ts";
import { REDIS_KEYS } from "./keys.ts";

/**
 * Sliding-window counters in Redis, one sorted set per counter and subject: members are the
 * counted things (an account id, a charge id), scores their time in ms. Re-adding a member only
 * moves it, so a retried signup or a redelivered webhook is counted once. The window lengths are
 * fixed here rather than configurable: changing one would silently reinterpret stored counts.
 */
export const WINDOWS_MS = {
  signupsPerIp: 60 * 60_000,
  signupsPerDevice: 24 * 60 * 60_000,
  signupsPerCard: 24 * 60 * 60_000,
  signupsPerDomain: 60 * 60_000,
  deploymentsPerAccount: 60 * 60_000,
  failedChargesPerAccount: 60 * 60_000,
  failedChargesPerCard: 60 * 60_000,
} as const;

/** How long a card, device or email link between accounts is remembered in Redis. */
export const LINK_TTL_SECONDS = 180 * 24 * 60 * 60;

type Pipeline = ReturnType<Redis["pipeline"]>;

/**
 * Queues the commands of one counter on `pipeline`: drop entries that left the window, add
 * `member` at `atMs`, count entries in `[atMs - windowMs, atMs]`, and let the key expire one
 * window after its last write. Returns the position of the count among the pipeline's results
 * given the position of its first command.
 */
export function countInWindow(
  pipeline: Pipeline,
  input: { counter: string; subject: string; member: string; atMs: number; windowMs: number },
  firstIndex: number,
): { countIndex: number; commands: number } {
  const key = REDIS_KEYS.velocity(input.counter, input.subject);
  pipeline.zremrangebyscore(key, 0, input.atMs - input.windowMs - 1);
  pipeline.zadd(key, { score: input.atMs, member: input.member });
  pipeline.zcount(key, input.atMs - input.windowMs, input.atMs);
  pipeline.pexpire(key, input.windowMs);
  return { countIndex: firstIndex + 2, commands: 4 };
}

/**
 * Collects pipeline commands and remembers, by label, where each wanted result lands, so callers
 * read results by name instead of by counting commands.
 */
export class PipelinePlan {
  readonly pipeline: Pipeline;
  #next = 0;
  #labels = new Map<string, number>();

  constructor(redis: Redis) {
    this.pipeline = redis.pipeline();
  }

  /** Queues one command whose result is wanted under `label` (or not, without a label). */
  add(label: string | null, queue: (p: Pipeline) => void): void {
    queue(this.pipeline);
    if (label !== null) {
      this.#labels.set(label, this.#next);
    }
    this.#next += 1;
  }

  /** Queues a sliding-window counter (see countInWindow); its count is read under `label`. */
  count(
    label: string,
    input: { counter: string; subject: string; member: string; atMs: number; windowMs: number },
  ): void {
    const { countIndex, commands } = countInWindow(this.pipeline, input, this.#next);
    this.#labels.set(label, countIndex);
    this.#next += commands;
  }

  /** Sends every queued command in one request and returns results by label. */
  async exec(): Promise<PipelineResults> {
    if (this.#next === 0) {
      return new PipelineResults([], this.#labels);
    }
    const results = await this.pipeline.exec<unknown[]>();
    return new PipelineResults(results, this.#labels);
  }
}

/** Results of an executed PipelinePlan, read by label. */
export class PipelineResults {
  readonly #results: unknown[];
  readonly #labels: Map<string, number>;

  constructor(results: unknown[], labels: Map<string, number>) {
    this.#results = results;
    this.#labels = labels;
  }

  /** The raw result under `label`, or undefined when nothing was queued under it. */
  get(label: string): unknown {
    const index = this.#labels.get(label);
    return index === undefined ? undefined : this.#results[index];
  }

  /** The result under `label` as a count (0 when absent). */
  number(label: string): number {
    const value = this.get(label);
    return typeof value === "number" ? value : Number(value ?? 0);
  }

  /** The result under `label` as a Redis boolean (1/true). */
  flag(label: string): boolean {
    const value = this.get(label);
    return value === 1 || value === true || value === "1";
  }
}
