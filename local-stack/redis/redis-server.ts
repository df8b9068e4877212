/**
 * Runs Debian's redis-server as a child of the service process, on loopback, with its files
 * in one folder. The child must never outlive us: it shares our process group (so the
 * orchestrator's group kill reaches it) and, through `setpriv --pdeathsig`, the kernel sends
 * it SIGTERM if we die without cleaning up, even by SIGKILL.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { delimiter, join } from "node:path";
import { RedisConnection } from "./connection.ts";

export interface RedisServerOptions {
  /** Folder for the append-only file; created if missing. */
  dataDir: string;
  /** Append-only persistence; off for throwaway test stacks. */
  persist: boolean;
  /** Where redis-server's own log lines go. */
  log: (line: string) => void;
  readyTimeoutMs?: number;
}

export interface RedisServer {
  port: number;
  pid: number;
  /** Whether the kernel will stop redis-server if this process dies abruptly. */
  diesWithParent: boolean;
  /** Resolves with the exit code (or signal) when redis-server exits for any reason. */
  exited: Promise<string>;
  /** Asks redis-server to exit (SIGTERM flushes the append-only file), then waits for it. */
  stop(): Promise<void>;
}

/** Thrown when redis-server is not installed, with the command that fixes it. */
export class RedisServerMissing extends Error {}

/** Finds an executable on PATH, as a shell would. */
export function findExecutable(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not in this folder.
    }
  }
  return undefined;
}

/** Another process took the port between our probe and redis-server's bind. */
class PortTaken extends Error {}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** Resolves once redis-server answers PING with PONG (not LOADING) or the deadline passes. */
async function waitUntilReady(
  port: number,
  child: ChildProcess,
  deadlineMs: number,
  addressInUse: () => boolean,
): Promise<void> {
  let lastProblem = "no answer yet";
  while (Date.now() < deadlineMs) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const how = child.exitCode ?? child.signalCode;
      throw addressInUse()
        ? new PortTaken(`port ${port} was taken before redis-server could bind it`)
        : new Error(`redis-server exited during start-up (${how}); see its log lines above`);
    }
    try {
      const connection = await RedisConnection.open(port);
      const [reply, info] = await connection.send([
        [Buffer.from("PING")],
        [Buffer.from("INFO"), Buffer.from("server")],
      ]);
      connection.close();
      if (reply?.kind === "simple" && reply.value === "PONG") {
        // The port was free when we picked it; make sure it is our child that took it.
        const pid = info?.kind === "bulk" ? /process_id:(\d+)/.exec(String(info.value)) : null;
        if (pid?.[1] !== String(child.pid)) {
          throw new PortTaken(`port ${port} is answered by another redis-server`);
        }
        return;
      }
      lastProblem = reply?.kind === "error" ? reply.message : `unexpected ${reply?.kind}`;
    } catch (error) {
      if (error instanceof PortTaken) {
        throw error;
      }
      lastProblem = error instanceof Error ? error.message : String(error);
    }
    // Start-up polling, not a test wait: redis-server has no readiness callback to hook.
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`redis-server was not ready in time: ${lastProblem}`);
}

/**
 * Starts redis-server on a free loopback port and resolves once it answers PING. Throws
 * RedisServerMissing when the binary is not installed, and an Error when it fails to start.
 */
export async function startRedisServer(options: RedisServerOptions): Promise<RedisServer> {
  const binary = findExecutable("redis-server");
  if (!binary) {
    throw new RedisServerMissing(
      "redis-server is not installed; install it with `apt-get install redis-server`",
    );
  }
  mkdirSync(options.dataDir, { recursive: true });
  // A port can be taken between our probe and redis-server's bind; a fresh port then works.
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(binary, await freePort(), options);
    } catch (error) {
      if (attempt >= 3 || !(error instanceof PortTaken)) {
        throw error;
      }
    }
  }
}

async function launch(
  binary: string,
  port: number,
  options: RedisServerOptions,
): Promise<RedisServer> {
  const setpriv = findExecutable("setpriv");
  const redisArgs = [
    "--bind",
    "127.0.0.1",
    "--port",
    String(port),
    "--protected-mode",
    "yes",
    "--daemonize",
    "no",
    "--dir",
    options.dataDir,
    // Snapshots fork the server and add nothing that the append-only file does not give.
    "--save",
    "",
    "--appendonly",
    options.persist ? "yes" : "no",
    "--appendfsync",
    "everysec",
    "--loglevel",
    "notice",
    "--logfile",
    "",
  ];
  const command = setpriv ? setpriv : binary;
  const args = setpriv ? ["--pdeathsig", "SIGTERM", "--", binary, ...redisArgs] : redisArgs;
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<string>((resolve) => {
    child.once("exit", (code, signal) => resolve(signal ?? String(code)));
  });
  let bindFailed = false;
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding("utf8");
    stream?.on("data", (text: string) => {
      for (const line of text.split("\n")) {
        if (line.trim() !== "") {
          bindFailed ||= line.includes("Address already in use");
          options.log(line);
        }
      }
    });
  }

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const forced = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(forced);
    }
  };

  try {
    const deadlineMs = Date.now() + (options.readyTimeoutMs ?? 30_000);
    await waitUntilReady(port, child, deadlineMs, () => bindFailed);
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, pid: child.pid ?? -1, diesWithParent: setpriv !== undefined, exited, stop };
}
