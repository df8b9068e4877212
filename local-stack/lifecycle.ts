/**
 * Helpers every local-stack service process uses: argument parsing, the readiness line the
 * orchestrator waits for, and exiting when the orchestrator goes away (no orphans).
 */
import { parseArgs } from "node:util";

export const READY_PREFIX = "MLSTACK_READY ";

export interface ServiceArgs {
  host: string;
  port: number;
  data: string;
  extra: Record<string, string | boolean | undefined>;
}

/** Parses `--host --port --data` plus any service-specific string options. */
export function parseServiceArgs(
  extraOptions: Record<string, { type: "string" | "boolean" }> = {},
): ServiceArgs {
  const { values } = parseArgs({
    options: {
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "0" },
      data: { type: "string" },
      ...extraOptions,
    },
    strict: true,
  });
  if (values.host !== "127.0.0.1" && values.host !== "localhost") {
    throw new Error(`local stack services bind loopback only, not ${values.host}`);
  }
  if (!values.data) {
    throw new Error("--data <dir> is required");
  }
  const { host, port, data, ...extra } = values as Record<string, string | boolean | undefined>;
  return { host: String(host), port: Number(port), data: String(data), extra };
}

/** Announces readiness to the orchestrator with the facts it needs (URL, port, secrets). */
export function announceReady(info: Record<string, unknown>): void {
  process.stdout.write(`${READY_PREFIX}${JSON.stringify(info)}\n`);
}

/**
 * Runs `shutdown` once on SIGTERM/SIGINT or when stdin closes. The orchestrator holds our stdin
 * open; if it dies, even by SIGKILL, stdin ends and this process cleans up and exits.
 */
export function onShutdown(shutdown: () => Promise<void> | void): void {
  let started = false;
  const run = async (reason: string) => {
    if (started) {
      return;
    }
    started = true;
    try {
      await shutdown();
    } catch (error) {
      process.stderr.write(`shutdown after ${reason} failed: ${String(error)}\n`);
    }
    process.exit(0);
  };
  process.on("SIGTERM", () => void run("SIGTERM"));
  process.on("SIGINT", () => void run("SIGINT"));
  process.stdin.on("end", () => void run("stdin closed"));
  process.stdin.on("error", () => void run("stdin error"));
  process.stdin.resume();
}
