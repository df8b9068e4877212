/**
 * Runs the Worker locally with `wrangler dev` in its own process group, wired to a local stack
 * through a generated `.dev.vars`, and stops the whole group (wrangler, workerd, esbuild) on
 * demand. Used by `npm run dev`, `npm start` and the benchmarks.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface WorkerProcess {
  url: string;
  pid: number;
  stop(): Promise<void>;
  exited: Promise<number | null>;
}

export interface WorkerOptions {
  root: string;
  port: number;
  env: Record<string, string>;
  /** Folder for wrangler's local state (Durable Objects, queues). */
  persistTo: string;
  logFile: string;
  /** Extra vars passed with `--var` (visible to the Worker, not written to disk). */
  onOutput?: (line: string) => void;
}

/**
 * The secret names wrangler.toml declares under `[secrets] required`. With that list present,
 * `wrangler dev` loads only those keys from `.dev.vars`; everything else (the local-only
 * settings such as NEON_WS_PROXY) must be passed as `--var`, or it silently never arrives.
 */
export function declaredSecrets(root: string): Set<string> {
  const toml = readFileSync(join(root, "wrangler.toml"), "utf8");
  const block = /\[secrets\][^[]*?required\s*=\s*\[([^\]]*)\]/s.exec(toml)?.[1] ?? "";
  return new Set([...block.matchAll(/"([A-Z0-9_]+)"/g)].map((m) => m[1] as string));
}

function devVarsText(env: Record<string, string>): string {
  return `${Object.entries(env)
    .map(([key, value]) => `${key}=${JSON.stringify(value)}`)
    .join("\n")}\n`;
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid !== undefined) {
    try {
      process.kill(-child.pid, signal);
    } catch {
      // Already gone.
    }
  }
}

/** Writes `.dev.vars` and starts `wrangler dev`; resolves once `/healthz` answers at all. */
export async function startWorker(options: WorkerOptions): Promise<WorkerProcess> {
  const secrets = declaredSecrets(options.root);
  const secretEnv = Object.fromEntries(
    Object.entries(options.env).filter(([key]) => secrets.has(key)),
  );
  const varArgs = Object.entries(options.env)
    .filter(([key]) => !secrets.has(key))
    .flatMap(([key, value]) => ["--var", `${key}:${value}`]);
  writeFileSync(join(options.root, ".dev.vars"), devVarsText(secretEnv), { mode: 0o600 });
  mkdirSync(options.persistTo, { recursive: true });
  const log = createWriteStream(options.logFile, { flags: "a" });
  const wrangler = join(options.root, "node_modules", "wrangler", "bin", "wrangler.js");
  const supervisor = join(options.root, "scripts", "supervise.ts");
  const child = spawn(
    process.execPath,
    [
      supervisor,
      process.execPath,
      wrangler,
      "dev",
      "--ip",
      "127.0.0.1",
      "--port",
      String(options.port),
      "--persist-to",
      options.persistTo,
      // "log", not "info": wrangler prints the Worker's console.log (our JSON log lines) at its
      // "log" level, which "info" hides.
      "--log-level",
      "log",
      "--show-interactive-dev-session=false",
      // Exposes /__scheduled so `npm run dev` can fire the crons locally.
      "--test-scheduled",
      ...varArgs,
    ],
    {
      cwd: options.root,
      detached: true,
      // The supervisor watches its stdin: when this process dies, the pipe closes and the
      // supervisor takes wrangler's whole process group down with it.
      stdio: ["pipe", "pipe", "pipe"],
      env: {
        ...process.env,
        WRANGLER_SEND_METRICS: "false",
        CLOUDFLARE_CF_FETCH_ENABLED: "false",
        NO_COLOR: "1",
      },
    },
  );
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );
  for (const stream of [child.stdout, child.stderr]) {
    stream?.on("data", (chunk: Buffer) => {
      log.write(chunk);
      for (const line of chunk.toString("utf8").split("\n")) {
        if (line.trim() !== "") {
          options.onOutput?.(line);
        }
      }
    });
  }
  const url = `http://127.0.0.1:${options.port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`wrangler dev exited with code ${child.exitCode}; see ${options.logFile}`);
    }
    try {
      const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5_000) });
      await response.body?.cancel();
      break;
    } catch {
      if (Date.now() > deadline) {
        killGroup(child, "SIGKILL");
        throw new Error(
          `wrangler dev did not answer on ${url} within 90 s; see ${options.logFile}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  return {
    url,
    pid: child.pid ?? -1,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) {
        return;
      }
      killGroup(child, "SIGTERM");
      const forced = setTimeout(() => killGroup(child, "SIGKILL"), 5_000);
      await exited;
      clearTimeout(forced);
      log.end();
    },
  };
}
