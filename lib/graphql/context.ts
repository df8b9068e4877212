import type { ClickHouseClient } from "../adapters/clickhouse.ts";
import type { Queryable } from "../adapters/postgres.ts";
import type { Clock } from "../clock/clock.ts";
import type { Logger } from "../log/logger.ts";
import type { UsageQuery, UsageReport } from "../metering/usage.ts";
import type { MeterReader } from "../pipeline/drift.ts";
import type { QueueBacklog } from "../pipeline/drift-run.ts";
import type { Loaders } from "./loaders.ts";

/** What the account meter answers a usage read with (see durable-objects/account-meter.ts). */
export type MeterUsageReply =
  | {
      status: "ok";
      report: UsageReport;
      spend: { spent: string; budget: string | null; capped: boolean; alertedPercents: number[] };
    }
  | { status: "unauthenticated" }
  | { status: "unknown_account" }
  | { status: "unavailable"; detail: string };

/** The account meter's read-only methods the API uses (its RPC stub fits). */
export interface AccountMeterReader extends MeterReader {
  usage(accountId: string, query: UsageQuery, keyHash: null): Promise<MeterUsageReply>;
}

/**
 * Everything resolvers reach outside the process through, built per request by the HTTP edge
 * (functions/routes/graphql.ts) and passed in, so tests can count or replace any of it.
 */
export interface GraphQLDeps {
  db: Queryable;
  clickhouse: ClickHouseClient;
  clock: Clock;
  log: Logger;
  requestId: string;
  meterFor(accountId: string): AccountMeterReader;
  /** The rated-usage queue's backlog; null (or a throw) where the runtime cannot tell. */
  queueBacklog(): Promise<QueueBacklog | null>;
}

/** What every resolver receives: the dependencies, this request's loaders, and its "now". */
export interface GraphQLContext {
  deps: GraphQLDeps;
  loaders: Loaders;
  /** One instant per request, so every field of one answer agrees on what "now" is. */
  nowMs: number;
}
