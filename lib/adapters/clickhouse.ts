import { type ClickHouseClient, createClient } from "@clickhouse/client-web";

/** ClickHouse over its HTTP interface: ClickHouse Cloud in production, the chdb server locally. */
export interface ClickHouseSettings {
  url: string;
  username: string;
  password: string;
  database: string;
}

/** Builds a client for one invocation; it holds no sockets, so there is nothing to close. */
export function openClickHouse(settings: ClickHouseSettings): ClickHouseClient {
  return createClient({
    url: settings.url,
    username: settings.username,
    password: settings.password,
    database: settings.database,
    request_timeout: 30_000,
    clickhouse_settings: {
      // Answer with 64-bit integers as JSON numbers would lose precision; keep them quoted.
      output_format_json_quote_64bit_integers: 1,
    },
  });
}

export type { ClickHouseClient };
