/**
 * Locates the PostgreSQL server programs of the newest Debian-packaged major version and the
 * OS account that runs them. Neon runs majors 15 to 17, so older servers are not accepted.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

const PACKAGE_ROOT = "/usr/lib/postgresql";
const OLDEST_MAJOR = 15;

export interface PostgresBinaries {
  major: number;
  initdb: string;
  postgres: string;
}

/** Who runs initdb and the postmaster; `undefined` ids mean "the current user". */
export interface RunAs {
  name: string;
  uid: number | undefined;
  gid: number | undefined;
}

/**
 * Returns the newest installed major (15+) under /usr/lib/postgresql. Throws with the install
 * command when none is present, so a fresh machine gets an actionable message.
 */
export function findBinaries(): PostgresBinaries {
  const majors = existsSync(PACKAGE_ROOT)
    ? readdirSync(PACKAGE_ROOT)
        .filter((name) => /^\d+$/.test(name))
        .map(Number)
        .filter((major) => major >= OLDEST_MAJOR)
        .filter((major) => existsSync(join(PACKAGE_ROOT, String(major), "bin", "postgres")))
        .sort((a, b) => b - a)
    : [];
  const major = majors[0];
  if (major === undefined) {
    throw new Error(
      `No PostgreSQL ${OLDEST_MAJOR}+ server found under ${PACKAGE_ROOT}. ` +
        "Install one with `apt-get install postgresql` (or postgresql-15) and start again.",
    );
  }
  const bin = join(PACKAGE_ROOT, String(major), "bin");
  return { major, initdb: join(bin, "initdb"), postgres: join(bin, "postgres") };
}

/**
 * initdb and postgres refuse to run as root, so root runs them as the `postgres` account the
 * Debian package creates; anyone else runs them as themselves.
 */
export function resolveRunAs(): RunAs {
  if (process.getuid?.() !== 0) {
    return { name: process.env.USER ?? "current user", uid: undefined, gid: undefined };
  }
  const ids = (flag: string): number => {
    try {
      return Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim());
    } catch {
      throw new Error(
        "Running as root needs the `postgres` OS account to own the cluster; it does not exist. " +
          "`apt-get install postgresql` creates it.",
      );
    }
  };
  return { name: "postgres", uid: ids("-u"), gid: ids("-g") };
}

/** True when util-linux `setpriv` can give the postmaster a parent-death signal. */
export function hasSetpriv(): boolean {
  try {
    execFileSync("setpriv", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
