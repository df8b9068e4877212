import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

/** Test files that stop shared local services. */
const OUTAGES = ["test/worker/pipeline/outage.test.ts"];

/** Runs test files inside workerd with the Worker's wrangler.toml and the local stack's URLs. */
const workerd = () =>
  cloudflareTest(({ inject }) => ({
    wrangler: { configPath: "./wrangler.toml" },
    miniflare: {
      bindings: { ...inject("workerEnv"), LOG_LEVEL: "warn" },
    },
  }));

export default defineConfig({
  test: {
    globalSetup: ["./test/setup/global-stack.ts"],
    projects: [
      {
        extends: true,
        test: {
          name: "node",
          include: ["test/node/**/*.test.ts"],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        // Real-browser tests: the Worker in workerd (Miniflare) against the local stack, driven
        // with Debian's Chromium through playwright-core. Screenshots go to test-results/e2e/.
        extends: true,
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
      {
        extends: true,
        plugins: [workerd()],
        test: {
          name: "worker",
          include: ["test/worker/**/*.test.ts"],
          exclude: OUTAGES,
          // workerd runs one test file at a time; the group puts this project after the Node
          // and browser projects and before the outage drills.
          sequence: { groupOrder: 1 },
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        // Outage drills stop the shared ClickHouse and Postgres; they run last and alone, so no
        // other test sees a sink go down underneath it.
        extends: true,
        plugins: [workerd()],
        test: {
          name: "outage",
          include: OUTAGES,
          sequence: { groupOrder: 2 },
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
