/**
 * Cron schedules of the QStash sandbox. A schedule turns into an ordinary message each time the
 * sandbox clock passes its next fire time (UTC). When the clock jumps past several fire times at
 * once, the schedule fires once and resumes from the new time, as a cron daemon does after a
 * pause, so a big `advanceSeconds` cannot flood a receiver. Jumping with `setMs` is a teleport,
 * not elapsed time: fire times are recomputed from the new time and nothing fires for the jump.
 */
import { type Broker, newId } from "./broker.ts";
import { CronSyntaxError, nextCronTimeMs, parseCron } from "./cron.ts";
import { HttpError } from "./http.ts";
import { assertLoopbackUrl, parseDurationMs, readDeliveryOptions } from "./publish-request.ts";
import type { ScheduleRecord } from "./state.ts";

export interface ScheduleInput {
  destination: string;
  /** Lower-case request headers, `Upstash-Cron` among them. */
  headers: Record<string, string>;
  body: Buffer;
  callerIp: string;
}

function nextFire(cron: string, afterMs: number): number {
  try {
    return nextCronTimeMs(parseCron(cron), afterMs);
  } catch (error) {
    if (error instanceof CronSyntaxError) {
      throw new HttpError(400, `Upstash-Cron "${cron}": ${error.message}`);
    }
    throw error;
  }
}

/**
 * Creates a schedule, or replaces the one named by `Upstash-Schedule-Id` (keeping its creation
 * time). Throws 400 for a missing or unreadable cron or a non-loopback destination. Persists.
 */
export function upsertSchedule(broker: Broker, input: ScheduleInput): string {
  const cron = input.headers["upstash-cron"];
  if (cron === undefined || cron.trim() === "") {
    throw new HttpError(400, "Upstash-Cron header is required to create a schedule");
  }
  const destination = assertLoopbackUrl(input.destination, "destination");
  const options = readDeliveryOptions(input.headers);
  const nowMs = broker.clock.nowMs();
  const scheduleId = input.headers["upstash-schedule-id"] ?? newId("scd");
  const existing = broker.state.schedules[scheduleId];
  const schedule: ScheduleRecord = {
    scheduleId,
    cron,
    destination,
    method: options.method,
    headers: options.headers,
    bodyBase64: input.body.toString("base64"),
    retries: options.maxRetries,
    delayMs:
      input.headers["upstash-delay"] === undefined
        ? 0
        : parseDurationMs(input.headers["upstash-delay"], "Upstash-Delay"),
    callerIp: input.callerIp,
    createdAtMs: existing?.createdAtMs ?? nowMs,
    isPaused: false,
    nextScheduleTimeMs: nextFire(cron, nowMs),
  };
  for (const key of ["retryDelay", "timeoutMs", "callback", "failureCallback"] as const) {
    if (options[key] !== undefined) {
      Object.assign(schedule, { [key]: options[key] });
    }
  }
  const queueName = input.headers["upstash-queue-name"];
  if (queueName !== undefined && queueName !== "") {
    schedule.queueName = queueName;
  }
  broker.state.schedules[scheduleId] = schedule;
  broker.persist();
  return scheduleId;
}

/** Creates the message for one firing of `schedule`; does not persist. */
export function fireSchedule(broker: Broker, schedule: ScheduleRecord): string {
  const nowMs = broker.clock.nowMs();
  const { messageId } = broker.accept(
    {
      url: schedule.destination,
      method: schedule.method,
      headers: schedule.headers,
      bodyBase64: schedule.bodyBase64,
      notBeforeMs: nowMs + schedule.delayMs,
      maxRetries: schedule.retries,
      callerIp: schedule.callerIp,
      ...(schedule.retryDelay === undefined ? {} : { retryDelay: schedule.retryDelay }),
      ...(schedule.timeoutMs === undefined ? {} : { timeoutMs: schedule.timeoutMs }),
      ...(schedule.callback === undefined ? {} : { callback: schedule.callback }),
      ...(schedule.failureCallback === undefined
        ? {}
        : { failureCallback: schedule.failureCallback }),
      ...(schedule.queueName === undefined ? {} : { queueName: schedule.queueName }),
    },
    "schedule",
    schedule.scheduleId,
  );
  schedule.lastScheduleTimeMs = nowMs;
  return messageId;
}

/** Fires every active schedule whose next time has come (once each); persists if any fired. */
export function fireDueSchedules(broker: Broker): number {
  const nowMs = broker.clock.nowMs();
  let fired = 0;
  for (const schedule of Object.values(broker.state.schedules)) {
    if (schedule.isPaused || schedule.nextScheduleTimeMs > nowMs) {
      continue;
    }
    fireSchedule(broker, schedule);
    schedule.nextScheduleTimeMs = nextFire(schedule.cron, nowMs);
    fired += 1;
  }
  if (fired > 0) {
    broker.persist();
  }
  return fired;
}

/** Recomputes every next fire time from the current clock (after the clock was set). */
export function rescheduleAll(broker: Broker): void {
  const nowMs = broker.clock.nowMs();
  for (const schedule of Object.values(broker.state.schedules)) {
    schedule.nextScheduleTimeMs = nextFire(schedule.cron, nowMs);
  }
}

/** Pauses or resumes; a resumed schedule next fires at its first time after now. Persists. */
export function setSchedulePaused(broker: Broker, scheduleId: string, paused: boolean): boolean {
  const schedule = broker.state.schedules[scheduleId];
  if (!schedule) {
    return false;
  }
  schedule.isPaused = paused;
  if (!paused) {
    schedule.nextScheduleTimeMs = nextFire(schedule.cron, broker.clock.nowMs());
  }
  broker.persist();
  return true;
}
