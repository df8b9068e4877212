/**
 * Creating, starting and stopping one PostgreSQL cluster. The postmaster runs in the foreground
 * as our child, in our process group, with a parent-death signal so that it cannot outlive a
 * supervisor killed by SIGKILL even when only the supervisor's pid was signalled.
 */
import { type ChildProcess, type SpawnOptions, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import type { PostgresBinaries, RunAs } from "./binaries.ts";
import type { ClusterLayout, Credentials } from "./layout.ts";
import { writeOwnedFile } from "./layout.ts";

export interface ClusterOptions {
  binaries: PostgresBinaries;
  runAs: RunAs;
  layout: ClusterLayout;
  /** util-linux setpriv is present: use it to switch user and set the parent-death signal. */
  setpriv: boolean;
}

interface Command {
  file: string;
  args: string[];
  options: SpawnOptions;
}

/**
 * Builds the command that runs `program` as `runAs`. With setpriv the child also gets SIGINT
 * (postgres' fast shutdown) when its parent dies; it is set after the user switch because the
 * kernel clears it on a credential change.
 */
function commandAs(cluster: ClusterOptions, program: string, args: string[]): Command {
  const { runAs } = cluster;
  const base: SpawnOptions = {
    cwd: cluster.layout.root,
    env: { ...process.env, LC_ALL: "C.UTF-8", LANG: "C.UTF-8" },
    // initdb and postgres log to our stderr, which the orchestrator writes to the service log.
    stdio: ["ignore", 2, 2],
  };
  if (!cluster.setpriv) {
    const ids = runAs.uid === undefined ? {} : { uid: runAs.uid, gid: runAs.gid };
    return { file: program, args, options: { ...base, ...ids } };
  }
  const switchUser =
    runAs.uid === undefined
      ? []
      : ["--reuid", String(runAs.uid), "--regid", String(runAs.gid), "--clear-groups"];
  return {
    file: "setpriv",
    args: [...switchUser, "--pdeathsig", "INT", "--", program, ...args],
    options: base,
  };
}

function waitForExit(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve(child.exitCode);
  }
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

/**
 * Runs initdb for a fresh cluster: superuser `postgres` with the generated password, SCRAM for
 * everyone by default, UTF-8 with the C.UTF-8 locale so sorting does not depend on the host's
 * locales. `fast` skips the final fsync. Throws when initdb fails; its output is in the log.
 */
export async function initCluster(
  cluster: ClusterOptions,
  credentials: Credentials,
  fast: boolean,
): Promise<void> {
  const pwfile = join(cluster.layout.root, "initdb-password");
  writeOwnedFile(pwfile, `${credentials.superuserPassword}\n`, cluster.runAs);
  try {
    const args = [
      "-D",
      cluster.layout.pgdata,
      "-U",
      "postgres",
      `--pwfile=${pwfile}`,
      "--auth-local=scram-sha-256",
      "--auth-host=scram-sha-256",
      "--encoding=UTF8",
      "--locale=C.UTF-8",
      "--no-instructions",
      ...(fast ? ["--no-sync"] : []),
    ];
    const command = commandAs(cluster, cluster.binaries.initdb, args);
    const code = await waitForExit(spawn(command.file, command.args, command.options));
    if (code !== 0) {
      throw new Error(`initdb exited with code ${code}; its output is above in this log`);
    }
  } finally {
    rmSync(pwfile, { force: true });
  }
}

/**
 * Rewrites pg_hba.conf on every start so that existing clusters follow the current rules: the
 * `app` role logs in with cleartext `password` over loopback TCP, because the Neon driver's
 * pipelined connect sends the password before the server asks; everyone else uses SCRAM.
 */
export function writeHba(cluster: ClusterOptions): void {
  const rules = [
    "# Written by local-stack/postgres on every start; edits here are overwritten.",
    "# TYPE  DATABASE  USER  ADDRESS        METHOD",
    "local   all       all                  scram-sha-256",
    "host    all       app   127.0.0.1/32   password",
    "host    all       all   127.0.0.1/32   scram-sha-256",
    "",
  ];
  writeOwnedFile(join(cluster.layout.pgdata, "pg_hba.conf"), rules.join("\n"), cluster.runAs);
}

/** Server settings passed on the command line, so the port can change between runs. */
function serverSettings(cluster: ClusterOptions, port: number, fast: boolean): string[] {
  const settings: Record<string, string> = {
    listen_addresses: "127.0.0.1",
    port: String(port),
    unix_socket_directories: cluster.layout.socketDir,
    max_connections: "200",
    timezone: "UTC",
    log_timezone: "UTC",
    lc_messages: "C.UTF-8",
    log_line_prefix: "%m [%p] %q%u@%d ",
  };
  if (fast) {
    // Tests only: a crash may lose or corrupt data, which a throwaway cluster does not mind.
    settings.fsync = "off";
    settings.synchronous_commit = "off";
    settings.full_page_writes = "off";
  }
  return Object.entries(settings).flatMap(([key, value]) => ["-c", `${key}=${value}`]);
}

function isRunning(pid: number): boolean {
  try {
    // Field 3 of /proc/PID/stat is the state; the name before it may contain spaces.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/**
 * Removes the lock files (`postmaster.pid`, `.s.PGSQL.N.lock`) of a postmaster that was
 * SIGKILLed, when its pid is gone or a zombie. postgres treats a zombie's pid as alive and would
 * refuse to start; zombies linger where the container's init does not reap orphans. Returns the
 * stale pids it cleared.
 */
export function clearStaleLocks(cluster: ClusterOptions): number[] {
  const { pgdata, socketDir } = cluster.layout;
  const lockFiles = [
    join(pgdata, "postmaster.pid"),
    ...readdirSync(socketDir)
      .filter((name) => name.endsWith(".lock"))
      .map((name) => join(socketDir, name)),
  ];
  const cleared = new Set<number>();
  for (const lockFile of lockFiles.filter((file) => existsSync(file))) {
    const pid = Number(readFileSync(lockFile, "utf8").split("\n")[0]);
    if (Number.isInteger(pid) && pid > 0 && !isRunning(pid)) {
      rmSync(lockFile, { force: true });
      cleared.add(pid);
    }
  }
  return [...cleared];
}

/** Starts the postmaster in the foreground as a child process. */
export function spawnPostmaster(
  cluster: ClusterOptions,
  port: number,
  fast: boolean,
): ChildProcess {
  const args = ["-D", cluster.layout.pgdata, ...serverSettings(cluster, port, fast)];
  const command = commandAs(cluster, cluster.binaries.postgres, args);
  return spawn(command.file, command.args, command.options);
}

/**
 * Polls until the server accepts a superuser login over TCP, every 50 ms for at most
 * `timeoutMs`. Fails at once if the postmaster exits first (bad config, port taken, stale lock).
 */
export async function waitUntilAccepting(
  postmaster: ChildProcess,
  adminUrl: string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (postmaster.exitCode !== null || postmaster.signalCode !== null) {
      throw new Error(
        `postgres exited (code ${postmaster.exitCode}, signal ${postmaster.signalCode}) ` +
          "before accepting connections; its log is above",
      );
    }
    const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 2_000 });
    try {
      await client.connect();
      await client.query("select 1");
      await client.end();
      return;
    } catch (error) {
      lastError = error;
      await client.end().catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`postgres did not accept connections within ${timeoutMs} ms: ${lastError}`);
}

/**
 * Fast shutdown (SIGINT: roll back open transactions, disconnect clients, checkpoint), then
 * immediate shutdown (SIGQUIT, crash recovery on the next start) after `graceMs`, then SIGKILL.
 * The default stays under the orchestrator's 10 s before it SIGKILLs the whole group.
 * Resolves once the postmaster has exited.
 */
export async function stopPostmaster(postmaster: ChildProcess, graceMs = 6_000): Promise<void> {
  const exited = waitForExit(postmaster);
  const escalate = (signal: NodeJS.Signals, afterMs: number) =>
    setTimeout(() => {
      postmaster.kill(signal);
    }, afterMs);
  postmaster.kill("SIGINT");
  const quit = escalate("SIGQUIT", graceMs);
  const kill = escalate("SIGKILL", graceMs + 2_000);
  await exited;
  clearTimeout(quit);
  clearTimeout(kill);
}
