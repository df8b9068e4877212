/**
 * A tiny loopback HTTP API over a running stack, so tests — including ones inside workerd, which
 * cannot signal processes — can stop a service mid-run and bring it back (outage drills):
 * `POST /services/<name>/stop`, `POST /services/<name>/start`, `GET /services`.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { SERVICE_NAMES, type ServiceName, type Stack } from "./stack.ts";

export interface StackControl {
  url: string;
  close(): Promise<void>;
}

/** Serves the control API on 127.0.0.1 at a free port. */
export async function serveStackControl(stack: Stack): Promise<StackControl> {
  let busy: Promise<unknown> = Promise.resolve();
  const server: Server = createServer((req, res) => {
    const match = /^\/services(?:\/([a-z-]+)\/(stop|start))?$/.exec(req.url ?? "");
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (!match) {
      reply(404, { error: "use GET /services or POST /services/<name>/stop|start" });
      return;
    }
    if (!match[1]) {
      reply(200, { running: [...stack.services.keys()] });
      return;
    }
    const name = match[1] as ServiceName;
    if (req.method !== "POST" || !SERVICE_NAMES.includes(name)) {
      reply(400, { error: `unknown service or method: ${req.method} ${name}` });
      return;
    }
    // One change at a time: a stop racing a start would leave the stack in an unknown state.
    busy = busy.then(async () => {
      try {
        if (match[2] === "stop") {
          await stack.stopService(name);
        } else if (!stack.services.has(name)) {
          await stack.startService(name);
        }
        reply(200, { running: [...stack.services.keys()] });
      } catch (error) {
        reply(500, { error: String(error) });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
