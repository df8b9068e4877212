/**
 * The local cloud: starts each stand-in as its own process group on loopback and maps what
 * they announce to the Worker's environment. Used by `npm run dev`, `npm start` and the tests.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type RunningService, spawnService } from "./process.ts";

const HERE = fileURLToPath(new URL(".", import.meta.url));

export const SERVICE_NAMES = [
  "postgres",
  "neon-proxy",
  "clickhouse",
  "redis",
  "stripe",
  "qstash",
] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export interface PostgresInfo {
  host: string;
  port: number;
  /** Superuser URL for migrations and test setup. */
  adminUrl: string;
  /** The application role's URL (cleartext password auth, as Neon's pipelined connect needs). */
  appUrl: string;
}
export interface NeonProxyInfo {
  port: number;
  /** host:port for neonConfig.wsProxy. */
  wsProxy: string;
  /** URL for neonConfig.fetchEndpoint (the HTTP SQL endpoint). */
  httpEndpoint: string;
}
export interface ClickHouseInfo {
  url: string;
  username: string;
  password: string;
}
export interface RedisInfo {
  url: string;
  token: string;
  redisPort: number;
}
export interface StripeInfo {
  url: string;
  secretKey: string;
  webhookSecret: string;
}
export interface QStashInfo {
  url: string;
  token: string;
  currentSigningKey: string;
  nextSigningKey: string;
}

export interface StackInfo {
  postgres: PostgresInfo;
  "neon-proxy": NeonProxyInfo;
  clickhouse: ClickHouseInfo;
  redis: RedisInfo;
  stripe: StripeInfo;
  qstash: QStashInfo;
}

export interface StackOptions {
  /** Folder for data and logs; git-ignored. */
  dataDir: string;
  /** Fixed ports for `npm run dev`; omitted (0) means any free port, as tests use. */
  ports?: Partial<Record<ServiceName, number>>;
  /** Where the Stripe sandbox and QStash deliver webhooks, when already known. */
  workerUrl?: string;
  onProgress?: (message: string) => void;
  /** Start only these (and what they need); all by default. For iterating on one stand-in. */
  only?: ServiceName[];
  /** Throwaway data (tests): Postgres runs with `--fast`, i.e. without fsync. */
  ephemeral?: boolean;
  /**
   * Start a service again, on the same port and data, when it exits without being asked to
   * (`npm run dev`: a crashed or killed stand-in comes back by itself). Off for tests, whose
   * outage drills stop services on purpose.
   */
  restartOnExit?: boolean;
}

export interface Stack {
  info: StackInfo;
  services: Map<ServiceName, RunningService>;
  /** Stops one service (e.g. to simulate an outage); `start` brings it back on the same port. */
  stopService(name: ServiceName): Promise<void>;
  startService(name: ServiceName): Promise<void>;
  stop(): Promise<void>;
}

function script(name: ServiceName): string {
  return join(HERE, name, "main.ts");
}

/** Starts every stand-in, in dependency order, and returns their coordinates. */
export async function startStack(options: StackOptions): Promise<Stack> {
  const logDir = join(options.dataDir, "logs");
  mkdirSync(logDir, { recursive: true });
  const progress = options.onProgress ?? (() => {});
  const services = new Map<ServiceName, RunningService>();
  const info: Partial<StackInfo> = {};
  const lastPort: Partial<Record<ServiceName, number>> = { ...options.ports };

  function argsFor(name: ServiceName): string[] {
    const args = ["--data", join(options.dataDir, name), "--port", String(lastPort[name] ?? 0)];
    if (name === "postgres" && options.ephemeral) {
      args.push("--fast");
    }
    if (name === "neon-proxy") {
      args.push("--pg-port", String(info.postgres?.port));
    }
    if ((name === "stripe" || name === "qstash") && options.workerUrl) {
      args.push("--worker-url", options.workerUrl);
    }
    return args;
  }

  /** Services being stopped on purpose: their exit is not a crash. */
  const stopping = new Set<ServiceName>();
  let stackStopped = false;
  /** Unexpected exits per service, for the restart backoff. */
  const crashes = new Map<ServiceName, number>();

  function watch(name: ServiceName, running: RunningService): void {
    void running.exited.then(async (code) => {
      if (stackStopped || stopping.has(name) || services.get(name) !== running) {
        return;
      }
      services.delete(name);
      const count = (crashes.get(name) ?? 0) + 1;
      crashes.set(name, count);
      const delayMs = Math.min(30_000, 500 * 2 ** (count - 1));
      progress(
        `${name} exited unexpectedly (code ${code}); restarting in ${delayMs} ms ` +
          `(see ${join(logDir, `${name}.log`)})`,
      );
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      if (stackStopped || services.has(name)) {
        return;
      }
      await start(name).catch((error: unknown) => {
        progress(`${name} could not be restarted: ${String(error)}`);
      });
    });
  }

  async function start(name: ServiceName): Promise<void> {
    progress(`starting ${name}`);
    const running = await spawnService({ name, script: script(name), args: argsFor(name), logDir });
    services.set(name, running);
    if (options.restartOnExit) {
      watch(name, running);
    }
    (info as Record<string, unknown>)[name] = running.info;
    const port = (running.info as { port?: number }).port;
    if (typeof port === "number") {
      lastPort[name] = port;
    }
    progress(`${name} ready`);
  }

  async function stop(): Promise<void> {
    stackStopped = true;
    const order = [...services.keys()].reverse();
    for (const name of order) {
      await services.get(name)?.stop();
    }
    services.clear();
  }

  const wanted = new Set<ServiceName>(options.only ?? SERVICE_NAMES);
  if (wanted.has("neon-proxy")) {
    wanted.add("postgres");
  }
  try {
    if (wanted.has("postgres")) {
      await start("postgres");
    }
    const rest = SERVICE_NAMES.filter((name) => name !== "postgres" && wanted.has(name));
    await Promise.all(rest.map((name) => start(name)));
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    info: withPlaceholders(info),
    services,
    async stopService(name) {
      stopping.add(name);
      try {
        await services.get(name)?.stop();
        services.delete(name);
      } finally {
        stopping.delete(name);
      }
    },
    startService: start,
    stop,
  };
}

/** Where a service that was not started is "reached": a closed loopback port. */
const UNSTARTED = "http://127.0.0.1:9";

function withPlaceholders(partial: Partial<StackInfo>): StackInfo {
  return {
    postgres: partial.postgres ?? {
      host: "127.0.0.1",
      port: 9,
      adminUrl: "postgresql://postgres@127.0.0.1:9/postgres",
      appUrl: "postgresql://app:app@127.0.0.1:9/meterline",
    },
    "neon-proxy": partial["neon-proxy"] ?? {
      port: 9,
      wsProxy: "127.0.0.1:9",
      httpEndpoint: `${UNSTARTED}/sql`,
    },
    clickhouse: partial.clickhouse ?? { url: UNSTARTED, username: "default", password: "" },
    redis: partial.redis ?? { url: UNSTARTED, token: "unstarted", redisPort: 9 },
    stripe: partial.stripe ?? {
      url: UNSTARTED,
      secretKey: "sk_test_unstarted",
      webhookSecret: "whsec_unstarted",
    },
    qstash: partial.qstash ?? {
      url: UNSTARTED,
      token: "unstarted",
      currentSigningKey: "sig_unstarted_current",
      nextSigningKey: "sig_unstarted_next",
    },
  };
}

/** The Worker's vars and secrets for this stack (what `.dev.vars` holds locally). */
export function workerEnv(
  partial: Partial<StackInfo>,
  adminApiKey: string,
): Record<string, string> {
  const info = withPlaceholders(partial);
  return {
    ENVIRONMENT: "local",
    ADMIN_API_KEY: adminApiKey,
    DATABASE_URL: info.postgres.appUrl,
    NEON_WS_PROXY: info["neon-proxy"].wsProxy,
    NEON_HTTP_ENDPOINT: info["neon-proxy"].httpEndpoint,
    CLICKHOUSE_URL: info.clickhouse.url,
    CLICKHOUSE_USER: info.clickhouse.username,
    CLICKHOUSE_PASSWORD: info.clickhouse.password,
    UPSTASH_REDIS_REST_URL: info.redis.url,
    UPSTASH_REDIS_REST_TOKEN: info.redis.token,
    STRIPE_SECRET_KEY: info.stripe.secretKey,
    STRIPE_WEBHOOK_SECRET: info.stripe.webhookSecret,
    STRIPE_API_BASE: info.stripe.url,
    QSTASH_URL: info.qstash.url,
    QSTASH_TOKEN: info.qstash.token,
    QSTASH_CURRENT_SIGNING_KEY: info.qstash.currentSigningKey,
    QSTASH_NEXT_SIGNING_KEY: info.qstash.nextSigningKey,
  };
}
