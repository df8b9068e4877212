/**
 * The demo's running system: the local stack on free ports with state under `.data/start/`, the
 * migrations, the Worker in workerd through Miniflare (Durable Objects on disk) on a fixed port,
 * a receiver for the notifications meterline sends through QStash, and the Stripe sandbox's
 * webhooks pointed back at the Worker.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createServer as createNetServer } from "node:net";
import { join } from "node:path";
import { type Stack, startStack, workerEnv } from "../../local-stack/stack.ts";
import { StripeSandboxControl } from "../../local-stack/stripe/sandbox-client.ts";
import { migrateClickHouse } from "../../migrations/clickhouse.ts";
import { migratePostgres } from "../../migrations/postgres.ts";
import { bundleWorker, type MiniflareWorker, startMiniflareWorker } from "../miniflare-worker.ts";

export interface Notification {
  path: string;
  receivedMs: number;
  body: unknown;
}

export interface DemoEnvironment {
  stack: Stack;
  worker: MiniflareWorker;
  url: string;
  adminKey: string;
  dataDir: string;
  notifications: Notification[];
  notificationUrl: string;
  /** Stops the Worker and starts it again on the same port and state (the chaos restart). */
  restartWorker(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A free port for the Worker, held by a listening socket until `release` — the stack's servers
 * and their outgoing connections start meanwhile, and the kernel hands none of them a port
 * someone listens on.
 */
function reservePort(): Promise<{ port: number; release(): Promise<void> }> {
  return new Promise((resolve, reject) => {
    const holder = createNetServer();
    holder.once("error", reject);
    holder.listen(0, "127.0.0.1", () => {
      const { port } = holder.address() as AddressInfo;
      resolve({
        port,
        release: () => new Promise<void>((done) => holder.close(() => done())),
      });
    });
  });
}

/** Starts the Worker on `port`, retrying while another process briefly holds it. */
async function launchOnPort(
  launch: () => Promise<MiniflareWorker>,
  port: number,
): Promise<MiniflareWorker> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await launch();
    } catch (error) {
      const inUse = String((error as { code?: unknown }).code ?? error).includes("ADDRESS_IN_USE");
      if (!inUse || attempt === 10) {
        throw error;
      }
      if (attempt === 1) {
        process.stderr.write(`  port ${port} is busy; retrying\n`);
      }
      await new Promise((resolve) => setTimeout(resolve, 300 * attempt));
    }
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
}

/** Checks what the local stack needs from the machine, with the command that installs it. */
export function preflight(): string[] {
  const problems: string[] = [];
  const hasPostgres =
    existsSync("/usr/lib/postgresql") &&
    execFileSync("sh", ["-c", "ls /usr/lib/postgresql/*/bin/postgres 2>/dev/null || true"])
      .toString()
      .trim() !== "";
  if (!hasPostgres) {
    problems.push("PostgreSQL is not installed: sudo apt-get install -y postgresql");
  }
  const hasRedis =
    execFileSync("sh", ["-c", "command -v redis-server || true"]).toString().trim() !== "";
  if (!hasRedis) {
    problems.push("redis-server is not installed: sudo apt-get install -y redis-server");
  }
  return problems;
}

export async function startDemoEnvironment(options: {
  root: string;
  adminKey: string;
  log: (line: string) => void;
  outboxResendSeconds: number;
}): Promise<DemoEnvironment> {
  const dataDir = join(options.root, ".data", "start");
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  const notifications: Notification[] = [];
  const receiver: Server = createServer((req, res) => {
    void readBody(req).then((text) => {
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // Kept as text.
      }
      notifications.push({ path: req.url ?? "/", receivedMs: Date.now(), body });
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const notificationUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

  const reservation = await reservePort();
  const port = reservation.port;
  const url = `http://127.0.0.1:${port}`;
  const stack = await startStack({
    dataDir: join(dataDir, "stack"),
    ephemeral: true,
    workerUrl: url,
    onProgress: (m) => options.log(`  ${m}`),
  });
  try {
    options.log("  applying migrations");
    await migratePostgres({
      url: stack.info.postgres.appUrl,
      wsProxy: stack.info["neon-proxy"].wsProxy,
    });
    await migrateClickHouse({ ...stack.info.clickhouse, database: "meterline" });
    const sandbox = new StripeSandboxControl({
      url: stack.info.stripe.url,
      secretKey: stack.info.stripe.secretKey,
    });
    await sandbox.configureWebhooks({ url: `${url}/webhooks/stripe`, mode: "push" });
    const env = {
      ...workerEnv(stack.info, options.adminKey),
      LOG_LEVEL: "warn",
      PUBLIC_BASE_URL: url,
      PLATFORM_NOTIFICATION_URL: `${notificationUrl}/platform`,
      OUTBOX_RESEND_SECONDS: String(options.outboxResendSeconds),
    };
    const bundleDir = join(dataDir, "bundle");
    options.log("  bundling the Worker (wrangler deploy --dry-run)");
    bundleWorker(options.root, bundleDir);
    const persistDir = join(dataDir, "worker");
    const logFile = join(dataDir, "stack", "logs", "worker.log");
    const launch = () =>
      startMiniflareWorker({ root: options.root, env, persistDir, port, bundleDir, logFile });
    await reservation.release();
    let worker = await launchOnPort(launch, port);
    const demo: DemoEnvironment = {
      stack,
      worker,
      url,
      adminKey: options.adminKey,
      dataDir,
      notifications,
      notificationUrl,
      async restartWorker() {
        await worker.stop();
        worker = await launchOnPort(launch, port);
        demo.worker = worker;
      },
      async stop() {
        await worker.stop().catch(() => {});
        await stack.stop();
        await new Promise<void>((resolve) => receiver.close(() => resolve()));
      },
    };
    return demo;
  } catch (error) {
    await reservation.release().catch(() => {});
    await stack.stop();
    receiver.close();
    throw error;
  }
}
