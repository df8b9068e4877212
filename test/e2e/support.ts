/**
 * The end-to-end harness: the Worker bundled as a deploy would bundle it and run in workerd
 * through Miniflare against the test run's local stack, seeded through the admin API, and
 * Debian's Chromium driven with playwright-core (never a downloaded browser).
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BrowserContext, chromium } from "playwright-core";
import { inject } from "vitest";
import { type MiniflareWorker, startMiniflareWorker } from "../../scripts/miniflare-worker.ts";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** Screenshots land here (git-ignored), one file per step. */
export const SCREENSHOTS = join(ROOT, "test-results", "e2e");

/** Debian's chromium package; CI installs it (.ci/run). */
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export interface E2eWorld {
  url: string;
  adminKey: string;
  browser: BrowserContext;
  stop(): Promise<void>;
}

/** Starts the Worker and a fresh Chromium profile; `stop()` removes both. */
export async function startWorld(): Promise<E2eWorld> {
  const env = inject("workerEnv");
  const scratch = mkdtempSync(join(tmpdir(), "meterline-e2e-"));
  mkdirSync(SCREENSHOTS, { recursive: true });
  let worker: MiniflareWorker | undefined;
  try {
    worker = await startMiniflareWorker({
      root: ROOT,
      env: { ...env, LOG_LEVEL: "warn" },
      persistDir: join(scratch, "worker"),
    });
    const browser = await chromium.launchPersistentContext(join(scratch, "profile"), {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1440, height: 900 },
    });
    const running = worker;
    return {
      url: running.url,
      adminKey: env.ADMIN_API_KEY as string,
      browser,
      async stop() {
        await browser.close();
        await running.stop();
        rmSync(scratch, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await worker?.stop();
    rmSync(scratch, { recursive: true, force: true });
    throw error;
  }
}

/** Calls the Worker's admin API; throws with the body unless the status is `expected`. */
export async function admin<T>(
  world: E2eWorld,
  path: string,
  body: unknown,
  expected = 201,
): Promise<T> {
  const response = await fetch(`${world.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${world.adminKey}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status !== expected) {
    throw new Error(`POST ${path}: expected ${expected}, got ${response.status}: ${text}`);
  }
  return JSON.parse(text) as T;
}
