/**
 * Local stand-in for Neon's compute: a real PostgreSQL server supervised by this process.
 *
 *   node local-stack/postgres/main.ts --data DIR --port N [--fast]
 *
 * Initialises `DIR/pgdata` on first use (re-used as is afterwards), starts the postmaster on
 * 127.0.0.1:N (N = 0 picks a free port), ensures role `app` and database `meterline`, and
 * announces `PostgresInfo`. `--fast` turns durability off for throwaway test clusters.
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { announceReady, onShutdown, parseServiceArgs } from "../lifecycle.ts";
import { findBinaries, hasSetpriv, resolveRunAs } from "./binaries.ts";
import {
  type ClusterOptions,
  clearStaleLocks,
  initCluster,
  spawnPostmaster,
  stopPostmaster,
  waitUntilAccepting,
  writeHba,
} from "./cluster.ts";
import { isInitialised, layoutFor, loadOrCreateCredentials, prepareDirectories } from "./layout.ts";
import { APP_DATABASE, APP_ROLE, ensureAppRole } from "./roles.ts";

const HOST = "127.0.0.1";

function log(message: string): void {
  process.stderr.write(`[postgres supervisor] ${message}\n`);
}

/** Asks the kernel for a free loopback port; postgres cannot be told to pick one itself. */
function pickFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function main(): Promise<void> {
  const args = parseServiceArgs({ fast: { type: "boolean" } });
  const fast = args.extra.fast === true;
  const binaries = findBinaries();
  const runAs = resolveRunAs();
  const layout = layoutFor(args.data);
  const credentials = loadOrCreateCredentials(layout);
  for (const dir of prepareDirectories(layout, runAs)) {
    log(`added search permission (o+x) to ${dir} so ${runAs.name} can reach the cluster`);
  }
  const cluster: ClusterOptions = { binaries, runAs, layout, setpriv: hasSetpriv() };
  if (!cluster.setpriv) {
    log("setpriv not found: an orphaned postmaster is stopped only by a process-group kill");
  }

  if (isInitialised(layout)) {
    const version = readFileSync(join(layout.pgdata, "PG_VERSION"), "utf8").trim();
    if (version !== String(binaries.major)) {
      throw new Error(
        `${layout.pgdata} was created by PostgreSQL ${version} but ${binaries.major} is ` +
          `installed; delete ${layout.root} or install postgresql-${version}.`,
      );
    }
    log(`re-using the PostgreSQL ${version} cluster in ${layout.pgdata}`);
  } else {
    log(`initialising a PostgreSQL ${binaries.major} cluster in ${layout.pgdata}`);
    await initCluster(cluster, credentials, fast);
  }
  writeHba(cluster);
  for (const pid of clearStaleLocks(cluster)) {
    log(`removed the lock files of postmaster ${pid}, which was killed without shutting down`);
  }

  const port = args.port === 0 ? await pickFreePort() : args.port;
  const postmaster = spawnPostmaster(cluster, port, fast);
  let stopping = false;
  postmaster.once("exit", (code, signal) => {
    if (!stopping) {
      log(`postgres exited unexpectedly (code ${code}, signal ${signal})`);
      process.exit(1);
    }
  });
  const stop = async () => {
    stopping = true;
    await stopPostmaster(postmaster);
    log("postgres stopped");
  };
  onShutdown(stop);

  const origin = `${HOST}:${port}`;
  const adminUrl = `postgresql://postgres:${credentials.superuserPassword}@${origin}/postgres`;
  const appUrl = `postgresql://${APP_ROLE}:${credentials.appPassword}@${origin}/${APP_DATABASE}`;
  try {
    await waitUntilAccepting(postmaster, adminUrl);
    await ensureAppRole(adminUrl, credentials.appPassword);
  } catch (error) {
    await stop();
    throw error;
  }
  announceReady({
    host: HOST,
    port,
    adminUrl,
    appUrl,
    postmasterPid: postmaster.pid,
    serverMajor: binaries.major,
    dataDir: layout.pgdata,
    socketDir: layout.socketDir,
    fast,
  });
}

main().catch((error: unknown) => {
  log(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
