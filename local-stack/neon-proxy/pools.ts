/**
 * One `pg` pool per set of credentials the HTTP endpoint has been asked to use. The real server
 * checks every password, so a wrong one fails exactly as it would on Neon (SQLSTATE 28P01).
 */
import pg from "pg";

export interface Credentials {
  user: string;
  password: string;
  database: string;
  applicationName: string | undefined;
}

/** Enough for a test suite's concurrency; Neon's own HTTP pooling is far larger. */
const CONNECTIONS_PER_POOL = 20;
/** Pools kept at once; the least recently used is ended beyond this. */
const MAX_POOLS = 32;

export interface PoolRegistry {
  poolFor(credentials: Credentials): pg.Pool;
  endAll(): Promise<void>;
}

/** Creates the registry for a cluster on 127.0.0.1:`clusterPort`. */
export function createPoolRegistry(clusterPort: number): PoolRegistry {
  const pools = new Map<string, pg.Pool>();

  return {
    poolFor(credentials) {
      const key = JSON.stringify([credentials.user, credentials.password, credentials.database]);
      const existing = pools.get(key);
      if (existing) {
        // Re-inserting keeps the map in least-recently-used order.
        pools.delete(key);
        pools.set(key, existing);
        return existing;
      }
      const pool = new pg.Pool({
        host: "127.0.0.1",
        port: clusterPort,
        user: credentials.user,
        password: credentials.password,
        database: credentials.database,
        max: CONNECTIONS_PER_POOL,
        idleTimeoutMillis: 10_000,
        connectionTimeoutMillis: 5_000,
        ...(credentials.applicationName ? { application_name: credentials.applicationName } : {}),
      });
      // An idle connection died (server restarted); the pool drops it and the next request
      // opens a fresh one. Without a listener the error would crash the proxy.
      pool.on("error", () => {});
      pools.set(key, pool);
      if (pools.size > MAX_POOLS) {
        const [oldestKey, oldest] = pools.entries().next().value as [string, pg.Pool];
        pools.delete(oldestKey);
        void oldest.end().catch(() => {});
      }
      return pool;
    },
    async endAll() {
      const all = [...pools.values()];
      pools.clear();
      await Promise.all(all.map((pool) => pool.end().catch(() => {})));
    },
  };
}
