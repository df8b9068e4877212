/**
 * What the QStash sandbox remembers, and how it survives a restart: one JSON document in
 * `<data>/state.json`, rewritten atomically (temp file, fsync, rename) after every change and
 * before the change is acknowledged, so anything a publisher was told is accepted is on disk.
 * In-flight attempts are not state: after a crash they are simply attempted again, which is the
 * at-least-once delivery QStash itself promises.
 */
import { randomBytes } from "node:crypto";
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import type { ClockState } from "./clock.ts";

export const HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

/** Where a message came from; callback messages never trigger callbacks of their own. */
export type MessageOrigin = "publish" | "schedule" | "callback" | "failure-callback" | "dlq-retry";

/** A message waiting for (another) delivery attempt. */
export interface MessageRecord {
  messageId: string;
  /** Monotonic acceptance order; queues deliver in this order. */
  seq: number;
  origin: MessageOrigin;
  url: string;
  method: HttpMethod;
  /** Headers delivered to the destination (forwarded ones and Content-Type), lower-case names. */
  headers: Record<string, string>;
  bodyBase64: string;
  createdAtMs: number;
  /** Sandbox time before which no attempt is made. */
  notBeforeMs: number;
  /** Attempts that already failed; sent as `Upstash-Retried`. */
  retried: number;
  maxRetries: number;
  retryDelay?: string;
  timeoutMs?: number;
  callback?: string;
  failureCallback?: string;
  queueName?: string;
  scheduleId?: string;
  callerIp: string;
}

/** What the destination said on the last failed attempt of a dead-lettered message. */
export interface DlqRecord extends MessageRecord {
  dlqId: string;
  failedAtMs: number;
  responseStatus?: number;
  responseHeaders?: Record<string, string[]>;
  responseBodyBase64?: string;
  /** Set when the last attempt got no HTTP answer at all (refused, timed out). */
  error?: string;
}

export interface ScheduleRecord {
  scheduleId: string;
  cron: string;
  destination: string;
  method: HttpMethod;
  headers: Record<string, string>;
  bodyBase64: string;
  retries: number;
  delayMs: number;
  retryDelay?: string;
  timeoutMs?: number;
  callback?: string;
  failureCallback?: string;
  queueName?: string;
  callerIp: string;
  createdAtMs: number;
  isPaused: boolean;
  lastScheduleTimeMs?: number;
  nextScheduleTimeMs: number;
}

export interface QueueRecord {
  name: string;
  parallelism: number;
  paused: boolean;
  createdAtMs: number;
  updatedAtMs: number;
}

export interface SandboxConfig {
  /** Which key signs deliveries; "next" simulates QStash after a key rotation. */
  signingKey: "current" | "next";
  /** "fast" retries at once (no backoff), for tests that only care about the retry count. */
  retryBackoff: "standard" | "fast";
}

export interface Identity {
  token: string;
  currentSigningKey: string;
  nextSigningKey: string;
}

export interface SandboxState {
  version: 1;
  identity: Identity;
  clock: ClockState;
  config: SandboxConfig;
  nextSeq: number;
  messages: Record<string, MessageRecord>;
  dlq: Record<string, DlqRecord>;
  schedules: Record<string, ScheduleRecord>;
  queues: Record<string, QueueRecord>;
  /** Deduplication id (or content hash) -> message id, until `expiresAtMs` (sandbox time). */
  dedup: Record<string, { messageId: string; expiresAtMs: number }>;
  /** Destination URL prefixes whose deliveries wait to be pulled instead of being pushed. */
  holds: string[];
}

function secret(prefix: string): string {
  return `${prefix}_${randomBytes(18).toString("base64url")}`;
}

function freshState(): SandboxState {
  return {
    version: 1,
    identity: {
      token: secret("qstash_local"),
      currentSigningKey: secret("sig_current"),
      nextSigningKey: secret("sig_next"),
    },
    clock: { offsetMs: 0, frozenAtMs: null },
    config: { signingKey: "current", retryBackoff: "standard" },
    nextSeq: 1,
    messages: {},
    dlq: {},
    schedules: {},
    queues: {},
    dedup: {},
    holds: [],
  };
}

/** The state document on disk. `load` creates it (with new secrets) on first start. */
export class StateFile {
  readonly path: string;

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.path = join(dataDir, "state.json");
  }

  load(): SandboxState {
    if (!existsSync(this.path)) {
      const state = freshState();
      this.save(state);
      return state;
    }
    const state = JSON.parse(readFileSync(this.path, "utf8")) as SandboxState;
    if (state.version !== 1) {
      throw new Error(`${this.path} has unknown version ${String(state.version)}`);
    }
    return state;
  }

  /** Replaces the file atomically; a crash leaves either the old or the new document. */
  save(state: SandboxState): void {
    const temp = `${this.path}.tmp`;
    const fd = openSync(temp, "w");
    try {
      writeSync(fd, JSON.stringify(state));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, this.path);
  }
}
