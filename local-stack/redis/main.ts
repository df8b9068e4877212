/**
 * Local Upstash Redis: a real redis-server behind a gateway that speaks Upstash's REST
 * protocol, so @upstash/redis and @upstash/ratelimit run unchanged against it.
 *
 *   node local-stack/redis/main.ts --data <dir> [--port 0] [--token <t>] [--fast]
 *
 * Announces RedisInfo (url, token, redisPort) plus `port`, `redisPid` and `diesWithParent`.
 * Without `--token`, the token is generated once and kept in `<data>/token`, so a restart
 * (outage simulation) keeps the credentials the Worker was given. `--fast` turns persistence
 * off for throwaway test stacks; otherwise the append-only file keeps dev state across runs.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { createLogger } from "../../lib/log/logger.ts";
import { announceReady, onShutdown, parseServiceArgs } from "../lifecycle.ts";
import { ConnectionPool } from "./connection.ts";
import { createGateway } from "./gateway.ts";
import { type RedisServer, RedisServerMissing, startRedisServer } from "./redis-server.ts";
import { ScriptShaMap } from "./scripts.ts";

const logger = createLogger({
  bindings: { service: "redis" },
  sink: (line) => process.stderr.write(`${line}\n`),
});

function loadOrCreateToken(dataDir: string, given: string | undefined): string {
  if (given) {
    return given;
  }
  const file = join(dataDir, "token");
  if (existsSync(file)) {
    return readFileSync(file, "utf8").trim();
  }
  const token = `local_${randomBytes(24).toString("base64url")}`;
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return token;
}

async function main(): Promise<void> {
  const args = parseServiceArgs({ token: { type: "string" }, fast: { type: "boolean" } });
  mkdirSync(args.data, { recursive: true });
  const token = loadOrCreateToken(args.data, args.extra.token as string | undefined);

  let redis: RedisServer;
  try {
    redis = await startRedisServer({
      dataDir: join(args.data, "redis"),
      persist: args.extra.fast !== true,
      log: (line) => process.stderr.write(`redis-server: ${line}\n`),
    });
  } catch (error) {
    if (error instanceof RedisServerMissing) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  if (!redis.diesWithParent) {
    logger.warn("setpriv not found: redis-server may outlive this process if it is SIGKILLed");
  }

  const pool = new ConnectionPool(redis.port);
  const gateway = createGateway({ token, pool, scripts: new ScriptShaMap(), logger });
  let stopping = false;

  onShutdown(async () => {
    stopping = true;
    gateway.close();
    gateway.closeAllConnections();
    pool.close();
    await redis.stop();
  });

  // Without Redis the gateway can only fail every request; exiting makes the outage visible.
  void redis.exited.then((how) => {
    if (!stopping) {
      logger.error("redis-server exited unexpectedly", { how });
      process.exit(1);
    }
  });

  try {
    await new Promise<void>((resolve, reject) => {
      gateway.once("error", reject);
      gateway.listen(args.port, args.host, () => resolve());
    });
  } catch (error) {
    stopping = true;
    pool.close();
    await redis.stop();
    throw error;
  }
  const { port } = gateway.address() as AddressInfo;
  announceReady({
    url: `http://${args.host}:${port}`,
    token,
    redisPort: redis.port,
    port,
    redisPid: redis.pid,
    diesWithParent: redis.diesWithParent,
  });
}

main().catch((error: unknown) => {
  logger.error("redis stand-in failed to start", { error });
  process.exit(1);
});
