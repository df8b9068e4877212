/**
 * Turns a publish, enqueue, batch entry or schedule request (destination, `Upstash-*` headers,
 * raw body) into a message draft, refusing with 400 what QStash would refuse, and anything
 * addressed outside this machine's loopback interface: the sandbox is test infrastructure and
 * must never be a way to make requests to other hosts.
 */
import { createHash } from "node:crypto";
import { HttpError } from "./http.ts";
import { parseRetryDelay, RetryDelaySyntaxError } from "./retry-delay.ts";
import { HTTP_METHODS, type HttpMethod } from "./state.ts";

/** QStash's default when `Upstash-Retries` is absent. */
export const DEFAULT_RETRIES = 3;
/** Upper bound on `Upstash-Retries`, standing in for a plan limit. */
export const MAX_RETRIES = 100;
/** Deduplication ids are remembered for 90 days (sandbox time). */
export const DEDUP_WINDOW_MS = 90 * 86_400_000;

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/**
 * Returns `text` unchanged when it is an http(s) URL on 127.0.0.1, localhost or [::1]; throws a
 * 400 naming the refused URL otherwise. `what` says which field it came from.
 */
export function assertLoopbackUrl(text: string, what: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new HttpError(
      400,
      `${what} "${text}" is not a URL (URL groups and APIs are not supported by the local sandbox)`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new HttpError(400, `${what} "${text}" must be an http or https URL`);
  }
  if (!LOOPBACK_HOSTS.has(url.hostname)) {
    throw new HttpError(
      400,
      `${what} "${text}" is not on loopback: the local QStash sandbox only delivers to ` +
        "127.0.0.1, localhost or [::1]",
    );
  }
  return text;
}

/** The destination after `prefix` in a raw request target (`/v2/publish/<destination>`), decoded if it was encoded. */
export function destinationAfter(target: string, prefix: string): string {
  const destination = target.slice(prefix.length);
  return destination.includes("://") ? destination : decodeURIComponent(destination);
}

/** Parses QStash durations such as "30s", "5m", "2h", "1d" or "1h30m" into ms. */
export function parseDurationMs(text: string, header: string): number {
  const trimmed = text.trim();
  if (!/^(\d+[smhd])+$/.test(trimmed)) {
    throw new HttpError(400, `${header} "${text}" is not a duration like 30s, 5m, 2h or 1d`);
  }
  const unitMs: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  let total = 0;
  for (const [, amount, unit] of trimmed.matchAll(/(\d+)([smhd])/g)) {
    total += Number(amount) * (unitMs[unit as string] as number);
  }
  return total;
}

function nonNegativeInteger(text: string, header: string, max: number): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) > max) {
    throw new HttpError(400, `${header} "${text}" must be an integer from 0 to ${max}`);
  }
  return Number(text);
}

/** Delivery options shared by messages and schedules. */
export interface DeliveryOptions {
  method: HttpMethod;
  /** Headers for the destination: `Upstash-Forward-*` unprefixed, plus Content-Type. */
  headers: Record<string, string>;
  maxRetries: number;
  retryDelay?: string;
  timeoutMs?: number;
  callback?: string;
  failureCallback?: string;
}

/** Reads the options every kind of publish shares from lower-case request headers. */
export function readDeliveryOptions(headers: Record<string, string>): DeliveryOptions {
  const method = (headers["upstash-method"] ?? "POST").toUpperCase();
  if (!(HTTP_METHODS as readonly string[]).includes(method)) {
    throw new HttpError(
      400,
      `Upstash-Method "${method}" must be one of ${HTTP_METHODS.join(", ")}`,
    );
  }
  const forwarded: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith("upstash-forward-") && name.length > "upstash-forward-".length) {
      forwarded[name.slice("upstash-forward-".length)] = value;
    }
  }
  if (headers["content-type"] !== undefined) {
    forwarded["content-type"] = headers["content-type"];
  }
  const options: DeliveryOptions = {
    method: method as HttpMethod,
    headers: forwarded,
    maxRetries:
      headers["upstash-retries"] === undefined
        ? DEFAULT_RETRIES
        : nonNegativeInteger(headers["upstash-retries"], "Upstash-Retries", MAX_RETRIES),
  };
  const retryDelay = headers["upstash-retry-delay"];
  if (retryDelay !== undefined) {
    try {
      parseRetryDelay(retryDelay);
    } catch (error) {
      if (error instanceof RetryDelaySyntaxError) {
        throw new HttpError(400, `Upstash-Retry-Delay "${retryDelay}": ${error.message}`);
      }
      throw error;
    }
    options.retryDelay = retryDelay;
  }
  if (headers["upstash-timeout"] !== undefined) {
    options.timeoutMs = parseDurationMs(headers["upstash-timeout"], "Upstash-Timeout");
  }
  if (headers["upstash-callback"] !== undefined) {
    options.callback = assertLoopbackUrl(headers["upstash-callback"], "Upstash-Callback");
  }
  if (headers["upstash-failure-callback"] !== undefined) {
    options.failureCallback = assertLoopbackUrl(
      headers["upstash-failure-callback"],
      "Upstash-Failure-Callback",
    );
  }
  return options;
}

/** A message ready to be accepted (id, order and timestamps are assigned on acceptance). */
export interface MessageDraft extends DeliveryOptions {
  url: string;
  bodyBase64: string;
  notBeforeMs: number;
  queueName?: string;
  callerIp: string;
  /** Present when the publisher asked for deduplication. */
  dedupKey?: string;
}

/** Content-based deduplication hashes the destination, the message's headers and the body. */
function contentKey(destination: string, headers: Record<string, string>, body: Buffer): string {
  const hash = createHash("sha256").update(destination).update("\n");
  const relevant = Object.entries(headers)
    .filter(([name]) => name === "content-type" || name.startsWith("upstash-"))
    .filter(([name]) => !name.startsWith("upstash-telemetry-") && !name.includes("dedup"))
    .sort(([a], [b]) => a.localeCompare(b));
  for (const [name, value] of relevant) {
    hash.update(`${name}: ${value}\n`);
  }
  return `content:${hash.update(body).digest("hex")}`;
}

export interface PublishInput {
  destination: string;
  /** Lower-case request headers. */
  headers: Record<string, string>;
  body: Buffer;
  callerIp: string;
  /** Sandbox time of the request. */
  nowMs: number;
  queueName?: string;
}

/** Validates a publish request and returns its draft; throws `HttpError` 400 on bad input. */
export function draftMessage(input: PublishInput): MessageDraft {
  const url = assertLoopbackUrl(input.destination, "destination");
  const options = readDeliveryOptions(input.headers);
  let notBeforeMs = input.nowMs;
  const notBefore = input.headers["upstash-not-before"];
  const delay = input.headers["upstash-delay"];
  if (notBefore !== undefined) {
    notBeforeMs = nonNegativeInteger(notBefore, "Upstash-Not-Before", 1e11) * 1000;
  } else if (delay !== undefined) {
    notBeforeMs = input.nowMs + parseDurationMs(delay, "Upstash-Delay");
  }
  const draft: MessageDraft = {
    ...options,
    url,
    bodyBase64: input.body.toString("base64"),
    notBeforeMs,
    callerIp: input.callerIp,
  };
  if (input.queueName !== undefined) {
    draft.queueName = input.queueName;
  }
  const dedupId = input.headers["upstash-deduplication-id"];
  if (dedupId !== undefined && dedupId !== "") {
    draft.dedupKey = `id:${dedupId}`;
  } else if (input.headers["upstash-content-based-deduplication"] === "true") {
    draft.dedupKey = contentKey(url, input.headers, input.body);
  }
  return draft;
}
