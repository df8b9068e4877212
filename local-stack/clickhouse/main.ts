/**
 * Local ClickHouse: the real ClickHouse engine (chdb, in-process) behind ClickHouse's HTTP
 * interface, so @clickhouse/client-web talks to it exactly as it talks to ClickHouse Cloud.
 *
 *   node local-stack/clickhouse/main.ts --data <dir> [--port 0] [--username u] [--password p]
 *
 * Data persists in `<dir>/engine`; credentials in `<dir>/credentials.json`. Announces
 * `{ url, username, password, port }` once listening.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { createLogger, isLogLevel } from "../../lib/log/logger.ts";
import { announceReady, onShutdown, parseServiceArgs } from "../lifecycle.ts";
import { loadCredentials } from "./auth.ts";
import { openEngine } from "./engine.ts";
import { createHandler } from "./http.ts";

// ClickHouse Cloud services run in UTC; the engine reads TZ when it starts, below.
process.env.TZ = "UTC";

const args = parseServiceArgs({
  username: { type: "string" },
  password: { type: "string" },
  "log-level": { type: "string" },
});
const level = String(args.extra["log-level"] ?? "info");
const log = createLogger({
  level: isLogLevel(level) ? level : "info",
  bindings: { service: "clickhouse" },
  sink: (line) => process.stdout.write(`${line}\n`),
});

const credentials = loadCredentials(args.data, {
  ...(typeof args.extra.username === "string" ? { username: args.extra.username } : {}),
  ...(typeof args.extra.password === "string" ? { password: args.extra.password } : {}),
});
const engine = await openEngine(join(args.data, "engine"));
const server = createServer(createHandler({ engine, credentials, log }));
// Longer than client-web's idle sockets so a reused connection is never closed under a request.
server.keepAliveTimeout = 30_000;

await new Promise<void>((resolve, reject) => {
  server.once("error", reject);
  server.listen(args.port, args.host, () => resolve());
});
const { port } = server.address() as AddressInfo;

onShutdown(async () => {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
  await engine.close();
  log.info("stopped", { port });
});

log.info("ready", { port, engineVersion: engine.version, timezone: engine.timezone });
announceReady({
  url: `http://${args.host}:${port}`,
  username: credentials.username,
  password: credentials.password,
  port,
});
