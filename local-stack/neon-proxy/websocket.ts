/**
 * The WebSocket tunnel Neon's driver speaks: `GET /v1?address=host:port` upgraded to a
 * WebSocket whose binary frames carry the raw Postgres wire protocol, piped to a TCP connection
 * to the local cluster. Frames are bytes in both directions; the proxy never parses them.
 */
import type { IncomingMessage, Server } from "node:http";
import { connect, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { type RawData, WebSocket, WebSocketServer } from "ws";
import { resolveTarget } from "./target.ts";

/** Paths the tunnel answers on: ours (`/v1`) and the driver's default (`/v2`). */
const TUNNEL_PATHS = new Set(["/v1", "/v2"]);
/** Stop reading from Postgres while this many bytes wait to go out on the WebSocket. */
const HIGH_WATER_BYTES = 1 << 20;

export interface WebSocketProxy {
  /** Open tunnels right now. */
  size(): number;
  /** Closes every tunnel (server shutdown). */
  closeAll(): void;
}

function refuseUpgrade(socket: Duplex, status: number, reason: string): void {
  const body = `${reason}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${status === 403 ? "Forbidden" : "Not Found"}\r\n` +
      "Connection: close\r\nContent-Type: text/plain; charset=utf-8\r\n" +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

function pipeTunnel(ws: WebSocket, tcp: Socket, tunnels: Set<() => void>): void {
  const close = () => {
    tcp.destroy();
    ws.terminate();
  };
  tunnels.add(close);

  ws.on("message", (data: RawData) => {
    const chunk = Array.isArray(data)
      ? Buffer.concat(data)
      : Buffer.isBuffer(data)
        ? data
        : Buffer.from(data);
    if (!tcp.write(chunk)) {
      ws.pause();
    }
  });
  tcp.on("drain", () => ws.resume());
  tcp.on("data", (chunk: Buffer) => {
    if (ws.readyState !== WebSocket.OPEN) {
      return;
    }
    ws.send(chunk, { binary: true }, () => {
      if (tcp.isPaused() && ws.bufferedAmount < HIGH_WATER_BYTES / 2) {
        tcp.resume();
      }
    });
    if (ws.bufferedAmount > HIGH_WATER_BYTES) {
      tcp.pause();
    }
  });

  // Postgres closed (or was never reachable): end the tunnel so the driver sees the failure.
  tcp.on("error", (error: Error) => {
    if (ws.readyState === WebSocket.OPEN) {
      ws.close(1011, `postgres: ${error.message}`.slice(0, 120));
    }
  });
  tcp.on("close", () => {
    tunnels.delete(close);
    if (ws.readyState === WebSocket.OPEN) {
      ws.close(1000);
    }
  });
  // `end` rather than `destroy`, so a Terminate message still in flight reaches the server.
  ws.on("close", () => tcp.end());
  ws.on("error", () => tcp.destroy());
}

/**
 * Serves the tunnel on `server`'s upgrade requests. Addresses are resolved by `resolveTarget`:
 * anything refused gets HTTP 403 before the upgrade and no TCP connection is opened.
 */
export function attachWebSocketProxy(server: Server, clusterPort: number): WebSocketProxy {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const tunnels = new Set<() => void>();

  server.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(request.url ?? "/", "http://neon-proxy.local");
    if (!TUNNEL_PATHS.has(url.pathname)) {
      refuseUpgrade(socket, 404, `no WebSocket endpoint at ${url.pathname}; use /v1`);
      return;
    }
    const target = resolveTarget(url.searchParams.get("address"), clusterPort);
    if (!target.ok) {
      process.stderr.write(`[neon-proxy] refused tunnel: ${target.reason}\n`);
      refuseUpgrade(socket, 403, target.reason);
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      const tcp = connect({ host: target.host, port: target.port });
      tcp.setNoDelay(true);
      pipeTunnel(ws, tcp, tunnels);
    });
  });

  return {
    size: () => tunnels.size,
    closeAll() {
      for (const close of tunnels) {
        close();
      }
      tunnels.clear();
      wss.close();
    },
  };
}
