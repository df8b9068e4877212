/**
 * `restartOnExit` (what `npm run dev` uses): a stand-in that dies without being asked comes back
 * on the same port with its data; one stopped on purpose stays stopped.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "@upstash/redis";
import { afterAll, describe, expect, it, vi } from "vitest";
import { type Stack, startStack } from "../../../local-stack/stack.ts";

const dataDir = mkdtempSync(join(tmpdir(), "meterline-restart-"));
let stack: Stack | undefined;

afterAll(async () => {
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("a stack started with restartOnExit", () => {
  it("brings a killed service back on its port with its data, and leaves a stopped one down", async () => {
    const progress: string[] = [];
    stack = await startStack({
      dataDir,
      only: ["redis"],
      restartOnExit: true,
      onProgress: (message) => progress.push(message),
    });
    const { url, token } = stack.info.redis;
    const redis = new Redis({ url, token, retry: false });
    await redis.set("kept", "yes");
    const first = stack.services.get("redis");
    expect(first).toBeDefined();

    process.kill(-(first?.pid ?? 0), "SIGKILL");
    await vi.waitFor(
      () => {
        const again = stack?.services.get("redis");
        expect(again !== undefined && again !== first).toBe(true);
      },
      { timeout: 30_000, interval: 100 },
    );
    expect(stack.info.redis.url).toBe(url);
    expect(await redis.get("kept")).toBe("yes");
    expect(progress.filter((m) => m.startsWith("redis exited unexpectedly"))).toHaveLength(1);

    // The watcher sees the exit before stopService resolves, and knows it was asked for.
    await stack.stopService("redis");
    expect(stack.services.has("redis")).toBe(false);
    expect(progress.filter((m) => m.startsWith("redis exited unexpectedly"))).toHaveLength(1);
  });
});
