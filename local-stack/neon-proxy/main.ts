/**
 * Local stand-in for Neon's edge: what `@neondatabase/serverless` talks to in dev and tests.
 *
 *   node local-stack/neon-proxy/main.ts --data DIR --port N --pg-port P
 *
 * One HTTP server on 127.0.0.1:N with the WebSocket tunnel (`/v1?address=host:port`, for Pool
 * and Client) and the SQL-over-HTTP endpoint (`POST /sql`, for `neon()`), both in front of the
 * local cluster on 127.0.0.1:P. Announces `NeonProxyInfo`. Survives the cluster restarting:
 * requests fail while it is down and work again once it is back.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { announceReady, onShutdown, parseServiceArgs } from "../lifecycle.ts";
import { createPoolRegistry } from "./pools.ts";
import { handleSql } from "./sql-over-http.ts";
import { attachWebSocketProxy } from "./websocket.ts";

function log(message: string): void {
  process.stderr.write(`[neon-proxy] ${message}\n`);
}

async function main(): Promise<void> {
  const args = parseServiceArgs({ "pg-port": { type: "string" } });
  const clusterPort = Number(args.extra["pg-port"]);
  if (!Number.isInteger(clusterPort) || clusterPort < 1 || clusterPort > 65_535) {
    throw new Error("--pg-port <port of the local Postgres cluster> is required");
  }
  const pools = createPoolRegistry(clusterPort);

  const server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://neon-proxy.local").pathname;
    if (path === "/sql" && request.method === "POST") {
      handleSql(request, response, pools, clusterPort).catch((error: unknown) => {
        log(`unexpected failure in /sql: ${String(error)}`);
        if (!response.headersSent) {
          response.writeHead(500).end();
        }
      });
      return;
    }
    if (path === "/healthz" && request.method === "GET") {
      response.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
      return;
    }
    response.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
  });
  const tunnels = attachWebSocketProxy(server, clusterPort);

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(args.port, args.host === "localhost" ? "127.0.0.1" : args.host, resolve);
  });
  const { port } = server.address() as AddressInfo;

  onShutdown(async () => {
    tunnels.closeAll();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await pools.endAll();
  });
  log(`listening on 127.0.0.1:${port}, in front of Postgres on 127.0.0.1:${clusterPort}`);
  announceReady({
    port,
    wsProxy: `127.0.0.1:${port}`,
    httpEndpoint: `http://127.0.0.1:${port}/sql`,
    clusterPort,
  });
}

main().catch((error: unknown) => {
  log(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
