/**
 * Runs the Worker in workerd through Miniflare's API (no wrangler dev proxy in front), with the
 * bindings wrangler.toml declares, Durable Object state persisted in a folder on disk, and the
 * given environment. The benchmarks and `npm start` use it: it is the fastest faithful local
 * runtime (same workerd, same bundle `wrangler deploy --dry-run` produces).
 */
import { spawnSync } from "node:child_process";
import { createWriteStream, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";

export interface MiniflareWorker {
  url: string;
  mf: Miniflare;
  /** Fires the Worker's scheduled handler for `cron` as if at `timeMs` (the production path). */
  triggerCron(cron: string, timeMs?: number): Promise<{ outcome: string }>;
  stop(): Promise<void>;
}

export interface MiniflareWorkerOptions {
  root: string;
  env: Record<string, string>;
  /** Folder for Durable Object, queue and cache state (on disk). */
  persistDir: string;
  port?: number;
  /**
   * Where the Worker's own log lines go (one JSON line each); by default stderr, so a command's
   * stdout stays its own (e.g. `npm start -- --json`).
   */
  logFile?: string;
  /** Opens the V8 inspector on this port (profiling). */
  inspectorPort?: number;
  /** Reuse an existing bundle instead of building one. */
  bundleDir?: string;
}

/** Bundles the Worker exactly as a deploy would, into `outDir`. */
export function bundleWorker(root: string, outDir: string): string {
  const wrangler = join(root, "node_modules", "wrangler", "bin", "wrangler.js");
  const result = spawnSync(
    process.execPath,
    [wrangler, "deploy", "--dry-run", "--outdir", outDir],
    {
      cwd: root,
      encoding: "utf8",
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
    },
  );
  if (result.status !== 0) {
    throw new Error(`bundling failed:\n${result.stdout}\n${result.stderr}`);
  }
  return join(outDir, "index.js");
}

/**
 * The modules wrangler's `[[rules]]` collected beside the bundle (imported as
 * `./<sha1>-<file name>`, e.g. the dashboard's assets): wasm and .bin as wrangler's default
 * rules type them, everything else as Text (the only other rule wrangler.toml declares).
 */
function collectedModules(bundleDir: string, entry: string) {
  const names = new Set(
    [...entry.matchAll(/from\s*"\.\/([0-9a-f]{40}-[^"/]+)"/g)].map((match) => match[1] as string),
  );
  return [...names].map((name) => {
    const path = join(bundleDir, name);
    if (name.endsWith(".wasm")) {
      return { type: "CompiledWasm", path, contents: readFileSync(path) };
    }
    if (name.endsWith(".bin")) {
      return { type: "Data", path, contents: readFileSync(path) };
    }
    return { type: "Text", path, contents: readFileSync(path, "utf8") };
  });
}

/** Starts the Worker; resolves when it listens on 127.0.0.1. */
export async function startMiniflareWorker(
  options: MiniflareWorkerOptions,
): Promise<MiniflareWorker> {
  const bundleDir = options.bundleDir ?? join(options.persistDir, "bundle");
  const scriptPath = options.bundleDir
    ? join(bundleDir, "index.js")
    : bundleWorker(options.root, bundleDir);
  const entry = readFileSync(scriptPath, "utf8");
  mkdirSync(options.persistDir, { recursive: true });
  const previous = process.cwd();
  process.chdir(options.root);
  // wrangler checks the declared secrets against process.env here (there is no .dev.vars); the
  // Worker gets them as bindings below, so let it see the same values instead of warning.
  const saved = Object.keys(options.env).map((name) => [name, process.env[name]] as const);
  Object.assign(process.env, options.env);
  let workerOptions: Record<string, unknown>;
  try {
    workerOptions = unstable_getMiniflareWorkerOptions(join(options.root, "wrangler.toml"))
      .workerOptions as Record<string, unknown>;
  } finally {
    for (const [name, value] of saved) {
      if (value === undefined) {
        delete process.env[name];
      } else {
        process.env[name] = value;
      }
    }
    process.chdir(previous);
  }
  const logStream = options.logFile ? createWriteStream(options.logFile, { flags: "a" }) : null;
  const v4Options = {
    ...workerOptions,
    name: "meterline",
    modules: [
      { type: "ESModule", path: scriptPath, contents: entry },
      ...collectedModules(bundleDir, entry),
    ],
    modulesRoot: bundleDir,
    bindings: { ...(workerOptions.bindings as Record<string, string>), ...options.env },
    // Durable Objects, queues and caches persist here (Miniflare 5's instance-level root).
    resourcePersistencePath: process.env.MF_DO_IN_MEMORY
      ? undefined
      : join(options.persistDir, "state"),
    host: "127.0.0.1",
    // Lets `triggerCron` fire the scheduled handler through /cdn-cgi/local/scheduled.
    unsafeTriggerHandlers: true,
    ...(options.inspectorPort ? { inspectorPort: options.inspectorPort } : {}),
    port: options.port ?? 0,
    handleStructuredLogs: ({ message }: { message: string }) => {
      if (logStream) {
        logStream.write(`${message}\n`);
      } else {
        process.stderr.write(`${message}\n`);
      }
    },
  };
  const mf = new Miniflare(
    convertV4MiniflareOptions(v4Options as Parameters<typeof convertV4MiniflareOptions>[0]),
  );
  const url = (await mf.ready).toString().replace(/\/$/, "");
  return {
    url,
    mf,
    async triggerCron(cron, timeMs) {
      const query = new URLSearchParams({ cron, format: "json" });
      if (timeMs !== undefined) {
        query.set("time", String(timeMs));
      }
      const response = await fetch(`${url}/cdn-cgi/local/scheduled?${query}`);
      return (await response.json()) as { outcome: string };
    },
    async stop() {
      await mf.dispose();
      logStream?.end();
    },
  };
}
