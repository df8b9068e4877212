/**
 * The JSON shapes the `@upstash/qstash` SDK reads back (Message, DlqMessage, Schedule,
 * QueueResponse), built from the sandbox's records. Field names follow the SDK's types; times are
 * epoch milliseconds of the sandbox clock.
 */
import type { AttemptResult } from "./broker.ts";
import type { DlqRecord, MessageRecord, QueueRecord, ScheduleRecord } from "./state.ts";

/** "content-type" -> "Content-Type", as QStash (a Go service) reports header names. */
function canonicalName(name: string): string {
  return name
    .split("-")
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join("-");
}

/** Single-valued lower-case headers as QStash's `Record<Name, string[]>`. */
export function headerLists(headers: Record<string, string>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    out[canonicalName(name)] = [value];
  }
  return out;
}

/** `body` when the bytes are valid UTF-8, `bodyBase64` otherwise, as QStash reports bodies. */
function bodyFields(bodyBase64: string, prefix = "body"): Record<string, string> {
  const bytes = Buffer.from(bodyBase64, "base64");
  try {
    return { [prefix]: new TextDecoder("utf-8", { fatal: true }).decode(bytes) };
  } catch {
    return { [`${prefix}Base64`]: bodyBase64 };
  }
}

function optional(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
}

export function messageView(message: MessageRecord): Record<string, unknown> {
  return optional({
    messageId: message.messageId,
    url: message.url,
    method: message.method,
    header: headerLists(message.headers),
    ...bodyFields(message.bodyBase64),
    maxRetries: message.maxRetries,
    retryDelayExpression: message.retryDelay,
    notBefore: message.notBeforeMs,
    createdAt: message.createdAtMs,
    callback: message.callback,
    failureCallback: message.failureCallback,
    queueName: message.queueName,
    scheduleId: message.scheduleId,
    callerIp: message.callerIp,
  });
}

export function dlqView(entry: DlqRecord): Record<string, unknown> {
  const response =
    entry.responseBodyBase64 === undefined
      ? {}
      : bodyFields(entry.responseBodyBase64, "responseBody");
  return optional({
    ...messageView(entry),
    dlqId: entry.dlqId,
    responseStatus: entry.responseStatus,
    responseHeader: entry.responseHeaders,
    ...response,
  });
}

export function scheduleView(schedule: ScheduleRecord): Record<string, unknown> {
  return optional({
    scheduleId: schedule.scheduleId,
    cron: schedule.cron,
    createdAt: schedule.createdAtMs,
    destination: schedule.destination,
    method: schedule.method,
    header: headerLists(schedule.headers),
    ...bodyFields(schedule.bodyBase64),
    retries: schedule.retries,
    delay: schedule.delayMs > 0 ? schedule.delayMs / 1000 : undefined,
    retryDelayExpression: schedule.retryDelay,
    callback: schedule.callback,
    failureCallback: schedule.failureCallback,
    callerIp: schedule.callerIp,
    isPaused: schedule.isPaused,
    queueName: schedule.queueName,
    lastScheduleTime: schedule.lastScheduleTimeMs,
    nextScheduleTime: schedule.nextScheduleTimeMs,
  });
}

export function queueView(queue: QueueRecord, lag: number): Record<string, unknown> {
  return {
    name: queue.name,
    parallelism: queue.parallelism,
    paused: queue.paused,
    lag,
    createdAt: queue.createdAtMs,
    updatedAt: queue.updatedAtMs,
  };
}

/** The JSON QStash posts to a (failure) callback URL about one attempt of `source`. */
export function callbackBody(
  source: MessageRecord,
  result: AttemptResult,
): Record<string, unknown> {
  return {
    status: result.status ?? 0,
    header: result.headers ?? {},
    body: result.bodyBase64 ?? "",
    retried: source.retried,
    maxRetries: source.maxRetries,
    sourceMessageId: source.messageId,
    url: source.url,
    method: source.method,
    sourceHeader: headerLists(source.headers),
    sourceBody: source.bodyBase64,
    notBefore: source.notBeforeMs,
    createdAt: source.createdAtMs,
    scheduleId: source.scheduleId ?? "",
    callerIP: source.callerIp,
    topicName: "",
    endpointName: "",
  };
}
