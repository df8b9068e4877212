/**
 * Where a connection request may go. The proxy only ever connects to the local cluster: a
 * production host name (e.g. `ep-cool-name-123.us-east-2.aws.neon.tech:5432`) is mapped onto it
 * so Neon connection strings work unchanged, and a loopback address is accepted only when it
 * names the cluster's own port. Nothing is ever resolved or dialled elsewhere, so this is not an
 * open proxy.
 */

export type Target =
  | { ok: true; host: "127.0.0.1"; port: number; requested: string }
  | { ok: false; reason: string };

const DEFAULT_PG_PORT = 5432;

/** Names that point at this machine, so their port says which local service is meant. */
function isLoopback(host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, "");
  return (
    name === "localhost" ||
    name.endsWith(".localhost") ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name) ||
    name === "0.0.0.0" ||
    name === "::1" ||
    name === "::" ||
    name === "0:0:0:0:0:0:0:1" ||
    name.startsWith("::ffff:127.")
  );
}

function splitHostPort(address: string): { host: string; port: string | undefined } | undefined {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(address);
  if (bracketed) {
    return { host: bracketed[1] ?? "", port: bracketed[2] };
  }
  const parts = /^([^:[\]]+)(?::(\d+))?$/.exec(address);
  return parts ? { host: parts[1] ?? "", port: parts[2] } : undefined;
}

/**
 * Decides where `host:port` (as the driver sends it in `?address=`, or taken from a connection
 * string) is served. `clusterPort` is the local PostgreSQL port.
 */
export function resolveTarget(address: string | null | undefined, clusterPort: number): Target {
  if (!address) {
    return { ok: false, reason: "missing address (expected ?address=host:port)" };
  }
  const parsed = splitHostPort(address.trim());
  if (!parsed || parsed.host === "") {
    return { ok: false, reason: `malformed address ${JSON.stringify(address)}` };
  }
  const port = parsed.port === undefined ? DEFAULT_PG_PORT : Number(parsed.port);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    return { ok: false, reason: `malformed port in ${JSON.stringify(address)}` };
  }
  if (isLoopback(parsed.host) && port !== clusterPort) {
    return {
      ok: false,
      reason: `${address} is not the local Postgres cluster (127.0.0.1:${clusterPort}); refused`,
    };
  }
  return { ok: true, host: "127.0.0.1", port: clusterPort, requested: address };
}
