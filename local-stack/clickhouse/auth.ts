/**
 * The stand-in's single user. Credentials live beside the data so a restart on the same data
 * folder announces the same password (bindings handed to running tests stay valid).
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ClickHouseFailure } from "./errors.ts";

export interface Credentials {
  username: string;
  password: string;
}

/**
 * Reads `<dataDir>/credentials.json`, creating it on first start. Explicit values override and
 * are saved. The file is written 0600 because it holds a password, even a local one.
 */
export function loadCredentials(dataDir: string, wanted: Partial<Credentials>): Credentials {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, "credentials.json");
  const saved: Partial<Credentials> = existsSync(file)
    ? (JSON.parse(readFileSync(file, "utf8")) as Partial<Credentials>)
    : {};
  const credentials = {
    username: wanted.username ?? saved.username ?? "default",
    password: wanted.password ?? saved.password ?? randomBytes(18).toString("base64url"),
  };
  if (credentials.username !== saved.username || credentials.password !== saved.password) {
    writeFileSync(file, `${JSON.stringify(credentials)}\n`, { mode: 0o600 });
  }
  return credentials;
}

/** Who the request claims to be, wherever it said so. */
export interface Claim {
  username: string;
  password: string;
}

/**
 * Extracts the claimed user the way ClickHouse does: `X-ClickHouse-User`/`X-ClickHouse-Key`
 * headers, or HTTP Basic, or `user`/`password` URL parameters, else `default` with no password.
 * Mixing schemes is refused, as the real server refuses it.
 */
export function claimOf(
  header: (name: string) => string | undefined,
  params: URLSearchParams,
): Claim {
  const user = header("x-clickhouse-user") ?? "";
  const key = header("x-clickhouse-key") ?? "";
  const authorization = header("authorization");
  const inParams = params.has("user") || params.has("password");
  if (user !== "" || key !== "") {
    if (authorization !== undefined || inParams) {
      throw new ClickHouseFailure(
        "AUTHENTICATION_FAILED",
        "Invalid authentication: it is not allowed to use X-ClickHouse HTTP headers and other authentication methods simultaneously",
      );
    }
    return { username: user || "default", password: key };
  }
  if (authorization !== undefined) {
    if (inParams) {
      throw new ClickHouseFailure(
        "AUTHENTICATION_FAILED",
        "Invalid authentication: it is not allowed to use Authorization HTTP header and authentication via parameters simultaneously",
      );
    }
    const [scheme = "", encoded = ""] = authorization.trim().split(/\s+/, 2);
    if (scheme.toLowerCase() !== "basic") {
      throw new ClickHouseFailure(
        "AUTHENTICATION_FAILED",
        `Invalid authentication: '${scheme}' HTTP Authorization scheme is not supported`,
      );
    }
    const decoded = Buffer.from(encoded, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    return colon < 0
      ? { username: decoded, password: "" }
      : { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  return { username: params.get("user") ?? "default", password: params.get("password") ?? "" };
}

function digest(value: string): Buffer {
  return createHash("sha256").update(value, "utf8").digest();
}

/** Throws AUTHENTICATION_FAILED (516, HTTP 403) unless the claim matches; compares in constant time. */
export function authenticate(claim: Claim, credentials: Credentials): void {
  const userOk = timingSafeEqual(digest(claim.username), digest(credentials.username));
  const passwordOk = timingSafeEqual(digest(claim.password), digest(credentials.password));
  if (!userOk || !passwordOk) {
    throw new ClickHouseFailure(
      "AUTHENTICATION_FAILED",
      `${claim.username}: Authentication failed: password is incorrect, or there is no user with such name`,
    );
  }
}
