/**
 * Starts a local-stack service as a child process in its own process group, waits for its
 * readiness line, and stops the whole group on demand. Logs go to `<logDir>/<name>.log`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import { join } from "node:path";
import { READY_PREFIX } from "./lifecycle.ts";

export interface RunningService<Info = Record<string, unknown>> {
  name: string;
  pid: number;
  info: Info;
  logFile: string;
  /** Stops the service's whole process group; resolves when it has exited. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Resolves when the process exits for any reason. */
  exited: Promise<number | null>;
}

export interface SpawnOptions {
  name: string;
  /** Node script (TypeScript is fine on Node 22) and its arguments. */
  script: string;
  args: string[];
  logDir: string;
  readyTimeoutMs?: number;
  env?: Record<string, string>;
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) {
    return;
  }
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

/** Spawns a service and resolves with the info it announced once it is ready. */
export async function spawnService<Info = Record<string, unknown>>(
  options: SpawnOptions,
): Promise<RunningService<Info>> {
  mkdirSync(options.logDir, { recursive: true });
  const logFile = join(options.logDir, `${options.name}.log`);
  const log = createWriteStream(logFile, { flags: "a" });
  const child = spawn(process.execPath, [options.script, ...options.args], {
    detached: true,
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, ...options.env },
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );
  child.stderr?.pipe(log, { end: false });

  const info = await new Promise<Info>((resolve, reject) => {
    let buffer = "";
    const timer = setTimeout(() => {
      killGroup(child, "SIGKILL");
      reject(new Error(`${options.name} did not become ready in time; see ${logFile}`));
    }, options.readyTimeoutMs ?? 60_000);
    child.stdout?.on("data", (chunk: Buffer) => {
      log.write(chunk);
      buffer += chunk.toString("utf8");
      let newline = buffer.indexOf("\n");
      while (newline >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        if (line.startsWith(READY_PREFIX)) {
          clearTimeout(timer);
          resolve(JSON.parse(line.slice(READY_PREFIX.length)) as Info);
        }
        newline = buffer.indexOf("\n");
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(
        new Error(`${options.name} exited with code ${code} before it was ready; see ${logFile}`),
      );
    });
  });

  return {
    name: options.name,
    pid: child.pid ?? -1,
    info,
    logFile,
    exited,
    async stop(signal = "SIGTERM") {
      if (child.exitCode !== null || child.signalCode !== null) {
        return;
      }
      killGroup(child, signal);
      const forced = setTimeout(() => killGroup(child, "SIGKILL"), 10_000);
      await exited;
      clearTimeout(forced);
      log.end();
    },
  };
}
