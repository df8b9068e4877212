/**
 * From the JSON a REST client sends to the bytes redis-server receives: argument conversion,
 * the commands the gateway refuses, and the script rewriting @upstash/ratelimit needs.
 */
import type { Reply } from "./resp.ts";
import type { ScriptShaMap } from "./scripts.ts";

/** A refusal worded like a Redis error, returned to the client as `{"error": message}`. */
export class CommandError extends Error {}

/** A command ready for redis-server, and how to present its reply to the client. */
export interface PreparedCommand {
  args: Buffer[];
  /** Lower-case command name, for routing decisions. */
  name: string;
  /** Holds its connection until it returns (BLPOP...), so it must not use the shared one. */
  blocking: boolean;
  /** Rewrites Redis' reply into the one the client expects (SCRIPT LOAD's hash). */
  adjust(reply: Reply): Reply;
}

/**
 * Commands that change or hijack the connection they run on. Every REST request shares
 * connections with other requests, so these would leak into them; transactions go through
 * `/multi-exec` instead, and streaming ones (subscribe, monitor) are not offered locally.
 */
const REFUSED = new Set([
  "auth",
  "hello",
  "select",
  "reset",
  "quit",
  "multi",
  "exec",
  "discard",
  "watch",
  "unwatch",
  "subscribe",
  "psubscribe",
  "ssubscribe",
  "unsubscribe",
  "punsubscribe",
  "sunsubscribe",
  "monitor",
  "sync",
  "psync",
  "replicaof",
  "slaveof",
  "failover",
  "shutdown",
  "debug",
]);

/** CLIENT subcommands that only read; the rest (REPLY, KILL, PAUSE...) could break others. */
const CLIENT_READS = new Set(["id", "info", "list", "getname"]);

const BLOCKING = new Set([
  "blpop",
  "brpop",
  "brpoplpush",
  "blmove",
  "blmpop",
  "bzpopmin",
  "bzpopmax",
  "bzmpop",
  "wait",
  "waitaof",
]);

const unchanged = (reply: Reply): Reply => reply;

/**
 * Converts one JSON command (`["set","k","v","ex",60]`) to byte arguments. Strings become their
 * UTF-8 bytes; numbers and booleans their decimal/literal text, as Upstash does.
 */
export function parseCommand(value: unknown): Buffer[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new CommandError("ERR a command must be a non-empty JSON array");
  }
  return value.map((arg) => {
    if (typeof arg === "string") {
      return Buffer.from(arg, "utf8");
    }
    if (typeof arg === "number" || typeof arg === "boolean") {
      return Buffer.from(String(arg), "utf8");
    }
    throw new CommandError(
      `ERR command arguments must be strings, numbers or booleans, not ${JSON.stringify(arg)}`,
    );
  });
}

function isBlocking(name: string, args: Buffer[]): boolean {
  if (BLOCKING.has(name)) {
    return true;
  }
  if (name === "xread" || name === "xreadgroup") {
    return args.some((arg) => arg.toString("latin1").toLowerCase() === "block");
  }
  return false;
}

/**
 * Applies the gateway's policy to one command: refuses connection-state commands, rewrites
 * Lua shebangs (EVAL, EVAL_RO, SCRIPT LOAD) and maps the client's script hashes (EVALSHA,
 * EVALSHA_RO, SCRIPT EXISTS). Throws CommandError for refused commands.
 */
export function prepareCommand(args: Buffer[], scripts: ScriptShaMap): PreparedCommand {
  const name = (args[0] as Buffer).toString("utf8").toLowerCase();
  const sub = args[1]?.toString("utf8").toLowerCase();
  if (REFUSED.has(name) || (name === "client" && !CLIENT_READS.has(sub ?? ""))) {
    const shown = sub && name === "client" ? `${name} ${sub}` : name;
    throw new CommandError(`ERR '${shown}' is not available through the REST gateway`);
  }
  const prepared: PreparedCommand = {
    args,
    name,
    blocking: isBlocking(name, args),
    adjust: unchanged,
  };
  if ((name === "eval" || name === "eval_ro") && args[1]) {
    prepared.args = [args[0] as Buffer, scripts.prepare(args[1]).body, ...args.slice(2)];
  } else if ((name === "evalsha" || name === "evalsha_ro") && args[1]) {
    const sha = Buffer.from(scripts.redisSha(args[1].toString("latin1")), "latin1");
    prepared.args = [args[0] as Buffer, sha, ...args.slice(2)];
  } else if (name === "script" && sub === "load" && args[2]) {
    const { body, clientSha } = scripts.prepare(args[2]);
    prepared.args = [args[0] as Buffer, args[1] as Buffer, body, ...args.slice(3)];
    prepared.adjust = (reply) =>
      reply.kind === "bulk" ? { kind: "bulk", value: Buffer.from(clientSha, "latin1") } : reply;
  } else if (name === "script" && sub === "exists") {
    const shas = args
      .slice(2)
      .map((sha) => Buffer.from(scripts.redisSha(sha.toString("latin1")), "latin1"));
    prepared.args = [args[0] as Buffer, args[1] as Buffer, ...shas];
  }
  return prepared;
}
