/**
 * The supervisor's data folder: the cluster (`pgdata/`), the Unix socket folder (`socket/`) and
 * the generated passwords (`credentials.json`), which must outlive the process so a cluster
 * re-used across runs keeps accepting the URLs it announced before.
 */
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { RunAs } from "./binaries.ts";

export interface ClusterLayout {
  root: string;
  pgdata: string;
  socketDir: string;
  credentialsFile: string;
}

export interface Credentials {
  superuserPassword: string;
  appPassword: string;
}

/** Linux caps a Unix socket path at 107 bytes; postgres refuses to start beyond it. */
const MAX_SOCKET_PATH_BYTES = 107;

/** Where everything lives under `--data`. */
export function layoutFor(dataDir: string): ClusterLayout {
  const root = resolve(dataDir);
  return {
    root,
    pgdata: join(root, "pgdata"),
    socketDir: join(root, "socket"),
    credentialsFile: join(root, "credentials.json"),
  };
}

/** True when `pgdata` already holds an initialised cluster. */
export function isInitialised(layout: ClusterLayout): boolean {
  return existsSync(join(layout.pgdata, "PG_VERSION"));
}

/**
 * Reads the passwords of an existing cluster, or creates new random ones for a fresh folder.
 * A cluster without its credentials file cannot be logged into, so that is an error naming the
 * folder to delete.
 */
export function loadOrCreateCredentials(layout: ClusterLayout): Credentials {
  if (existsSync(layout.credentialsFile)) {
    return JSON.parse(readFileSync(layout.credentialsFile, "utf8")) as Credentials;
  }
  if (isInitialised(layout)) {
    throw new Error(
      `${layout.pgdata} holds a cluster but ${layout.credentialsFile} is missing; ` +
        `delete ${layout.root} to start from an empty cluster.`,
    );
  }
  // Hex keeps the passwords safe inside URLs and SQL literals without escaping.
  const credentials: Credentials = {
    superuserPassword: randomBytes(18).toString("hex"),
    appPassword: randomBytes(18).toString("hex"),
  };
  mkdirSync(layout.root, { recursive: true });
  writeFileSync(layout.credentialsFile, `${JSON.stringify(credentials, null, 2)}\n`, {
    mode: 0o600,
  });
  return credentials;
}

/**
 * Creates the cluster and socket folders owned by the account that runs postgres. When that is
 * another account (root runs it as `postgres`), every ancestor folder must let it pass through,
 * so search permission (`o+x`, never read) is added where missing; temporary folders from
 * mkdtemp are 0700 and would otherwise stop postgres at the door. Returns what it changed.
 */
export function prepareDirectories(layout: ClusterLayout, runAs: RunAs): string[] {
  const socketPath = join(layout.socketDir, ".s.PGSQL.65535");
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES) {
    throw new Error(
      `--data ${layout.root} is too deep: the socket path ${socketPath} exceeds ` +
        `${MAX_SOCKET_PATH_BYTES} bytes. Use a shorter data folder.`,
    );
  }
  mkdirSync(layout.root, { recursive: true });
  for (const dir of [layout.pgdata, layout.socketDir]) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (runAs.uid !== undefined && runAs.gid !== undefined) {
      chownSync(dir, runAs.uid, runAs.gid);
    }
    // postgres insists on 0700 (or 0750) for its data folder, whatever the umask made it.
    chmodSync(dir, 0o700);
  }
  if (runAs.uid === undefined) {
    return [];
  }
  const changed: string[] = [];
  let dir = layout.root;
  for (;;) {
    const stat = statSync(dir);
    const passable = stat.uid === runAs.uid || (stat.mode & 0o001) !== 0;
    if (!passable) {
      chmodSync(dir, (stat.mode & 0o7777) | 0o001);
      changed.push(dir);
    }
    const parent = dirname(dir);
    if (parent === dir) {
      return changed;
    }
    dir = parent;
  }
}

/** Writes a file the postgres account owns (pg_hba.conf, the initdb password file). */
export function writeOwnedFile(path: string, content: string, runAs: RunAs): void {
  writeFileSync(path, content, { mode: 0o600 });
  if (runAs.uid !== undefined && runAs.gid !== undefined) {
    chownSync(path, runAs.uid, runAs.gid);
  }
}
