/**
 * Makes Upstash-flavoured Lua scripts acceptable to stock Redis. @upstash/ratelimit 2.2 starts
 * its scripts with `#!lua flags=allow-key-locking`, a flag only Upstash knows; Redis 7 rejects
 * the whole script. We drop unknown flags before the script reaches Redis and remember which
 * SHA1 the client knows the script by, so `EVALSHA <original sha>` still finds it.
 */
import { createHash } from "node:crypto";

/** The shebang flags Redis 7.0 understands; anything else is removed. */
const REDIS_SCRIPT_FLAGS = new Set([
  "no-writes",
  "allow-oom",
  "allow-stale",
  "no-cluster",
  "allow-cross-slot-keys",
]);

function sha1Hex(body: Buffer): string {
  return createHash("sha1").update(body).digest("hex");
}

/**
 * Rewrites the first line when it is a shebang with unknown flags; returns `undefined` when the
 * script needs no change. The line stays a line, so Redis' error line numbers still match.
 */
export function stripUnknownFlags(script: Buffer): Buffer | undefined {
  if (script[0] !== 0x23 || script[1] !== 0x21) {
    return undefined;
  }
  const newline = script.indexOf(0x0a);
  const lineEnd = newline < 0 ? script.length : newline;
  const shebang = script.toString("utf8", 0, lineEnd);
  const words = shebang.trimEnd().split(/\s+/);
  let changed = false;
  const kept = words.map((word) => {
    if (!word.startsWith("flags=")) {
      return word;
    }
    const flags = word.slice("flags=".length).split(",");
    const known = flags.filter((flag) => REDIS_SCRIPT_FLAGS.has(flag));
    if (known.length === flags.length) {
      return word;
    }
    changed = true;
    return known.length > 0 ? `flags=${known.join(",")}` : "";
  });
  if (!changed) {
    return undefined;
  }
  const line = kept.filter((word) => word !== "").join(" ");
  return Buffer.concat([Buffer.from(line, "utf8"), script.subarray(lineEnd)]);
}

/**
 * The gateway's memory of rewritten scripts: the SHA1 the client computed (of the original
 * text) → the SHA1 Redis knows (of the rewritten text). Only rewritten scripts are recorded.
 * It lives as long as the gateway process, which is also the life of redis-server's own script
 * cache, so the two cannot drift apart; after SCRIPT FLUSH, Redis answers NOSCRIPT for the
 * mapped hash and the client falls back to EVAL, which records the mapping again.
 */
export class ScriptShaMap {
  private readonly toRedis = new Map<string, string>();

  /** Prepares a script for Redis; returns its body to send and the SHA1 the client expects. */
  prepare(script: Buffer): { body: Buffer; clientSha: string } {
    const clientSha = sha1Hex(script);
    const rewritten = stripUnknownFlags(script);
    if (!rewritten) {
      return { body: script, clientSha };
    }
    this.toRedis.set(clientSha, sha1Hex(rewritten));
    return { body: rewritten, clientSha };
  }

  /** The hash to give Redis for a hash the client sent (unchanged when it was never rewritten). */
  redisSha(clientSha: string): string {
    const normalized = clientSha.toLowerCase();
    return this.toRedis.get(normalized) ?? clientSha;
  }
}
