import type { Aggregation, MeterDefinition } from "../catalogue/meter.ts";
import { canonicalDecimal } from "../ingest/decimal-text.ts";
import type { UsageEvent } from "../ingest/event.ts";
import { INGEST_LIMITS } from "../ingest/limits.ts";
import type { EventRejection, EventRejectionCode } from "../ingest/rejections.ts";
import { EVENT_REJECTION_CODES } from "../ingest/rejections.ts";
import { Decimal } from "../money/decimal.ts";
import type { RatedRecord, RawEventRecord } from "../pipeline/rated-usage-message.ts";
import { splitAccrual } from "./accrual.ts";
import { payloadFingerprint } from "./fingerprint.ts";
import { type BucketRow, MeterCache, type TotalsRow } from "./meter-cache.ts";
import type { MeterContext, Segment } from "./meter-context.ts";
import type { Sql, SqlValue } from "./sql.ts";

/** An event as the Worker hands it to the meter, with its position in the request. */
export interface IndexedEvent extends UsageEvent {
  index: number;
}

/** What one batch did. Rejections carry the request indexes the Worker gave. */
export interface BatchResult {
  accepted: number;
  duplicates: number;
  rejected: EventRejection[];
  records: RatedRecord[];
  events: RawEventRecord[];
  /** Rated amount added per billing period (period start ms → decimal text), priced usage only. */
  spendDeltas: Map<number, Decimal>;
}

const MINUTE_MS = 60_000;
/** Durable Object SQL accepts at most 100 bound parameters per statement. */
const MAX_BOUND_PARAMETERS = 100;
/** Dedup rows inserted per statement: three parameters each. */
const CLAIM_ROWS_PER_STATEMENT = 33;
const ZERO = Decimal.ZERO;

interface GroupKey {
  meter: MeterDefinition;
  periodStartMs: number;
  periodEndMs: number;
  segment: Segment;
}

/** Accumulates one (meter, period, segment) group's change within the batch. */
interface Group extends GroupKey {
  /** Additive aggregations: quantity added per local day, in day order. */
  dayDeltas: Map<string, Decimal>;
  dayEvents: Map<string, number>;
  /** max: largest value seen; latest: value of the newest event. */
  candidate: Decimal | null;
  candidateMs: number;
  candidateId: string;
  candidateDay: string;
  /** Per-event fees for take-rate prices. */
  perEventAmount: Decimal;
  events: number;
}

interface SeriesState {
  level: Decimal;
  lastMs: number;
  dims: Record<string, string>;
  open: boolean;
  dirty: boolean;
}

interface BucketChange {
  meter: MeterDefinition;
  minuteMs: number;
  quantity: Decimal;
  events: number;
  latestMs: number;
}

interface DimensionChange {
  meter: MeterDefinition;
  periodStartMs: number;
  dimension: string;
  value: string;
  quantity: Decimal;
  events: number;
  latestMs: number;
}

function rejection(event: IndexedEvent, code: EventRejectionCode, detail?: string): EventRejection {
  return { index: event.index, id: event.id, code, detail: detail ?? EVENT_REJECTION_CODES[code] };
}

function combine(aggregation: Aggregation, current: Decimal, next: Decimal): Decimal {
  if (aggregation === "max") {
    return current.max(next);
  }
  return current.add(next);
}

/**
 * Applies one batch of validated events to the account meter's storage: dedup by event id,
 * per-meter aggregation by billing period and pricing segment, incremental rating, minute
 * buckets, breakdown totals and time-weighted series. Must run inside one storage transaction
 * (the caller's `transactionSync`): if anything throws, nothing of the batch is applied.
 * Returns the outcome per event and the rated records to put in the outbox. `cache` holds the
 * meter's write-through copies of the rows it updates (the caller clears it if the transaction
 * fails); without one, every row is read from SQLite.
 */
export function applyBatch(
  sql: Sql,
  ctx: MeterContext,
  events: IndexedEvent[],
  nowMs: number,
  cache: MeterCache = new MeterCache(),
): BatchResult {
  const result: BatchResult = {
    accepted: 0,
    duplicates: 0,
    rejected: [],
    records: [],
    events: [],
    spendDeltas: new Map(),
  };
  const groups = new Map<string, Group>();
  const buckets = new Map<string, BucketChange>();
  const dimensions = new Map<string, DimensionChange>();
  const seriesCache = new Map<string, SeriesState>();
  if (cache.periods === null) {
    cache.periods = new Map();
    for (const row of sql.exec<{ start_ms: number; end_ms: number; sealed_ms: number | null }>(
      "SELECT start_ms, end_ms, sealed_ms FROM periods",
    )) {
      cache.periods.set(row.start_ms, { endMs: row.end_ms, sealed: row.sealed_ms !== null });
    }
  }
  const periodCache = cache.periods;
  const sealed = { has: (startMs: number) => periodCache.get(startMs)?.sealed === true };
  const knownPeriods = { has: (startMs: number) => periodCache.has(startMs) };
  const newPeriods = new Map<number, number>();
  const oldestAcceptedMs = nowMs - ctx.lateArrivalWindowMs;

  function groupFor(
    meter: MeterDefinition,
    periodStartMs: number,
    periodEndMs: number,
    segment: Segment,
  ): Group {
    const key = `${meter.key}\u0000${periodStartMs}\u0000${segment.id}`;
    let group = groups.get(key);
    if (!group) {
      group = {
        meter,
        periodStartMs,
        periodEndMs,
        segment,
        dayDeltas: new Map(),
        dayEvents: new Map(),
        candidate: null,
        candidateMs: -1,
        candidateId: "",
        candidateDay: "",
        perEventAmount: ZERO,
        events: 0,
      };
      groups.set(key, group);
    }
    return group;
  }

  function addToBucket(
    meter: MeterDefinition,
    atMs: number,
    quantity: Decimal,
    events: number,
  ): void {
    const minuteMs = atMs - (((atMs % MINUTE_MS) + MINUTE_MS) % MINUTE_MS);
    const key = `${meter.key}\u0000${minuteMs}`;
    const bucket = buckets.get(key);
    if (!bucket) {
      buckets.set(key, { meter, minuteMs, quantity, events, latestMs: atMs });
      return;
    }
    if (meter.aggregation === "latest") {
      if (atMs >= bucket.latestMs) {
        bucket.quantity = quantity;
        bucket.latestMs = atMs;
      }
    } else {
      bucket.quantity = combine(meter.aggregation, bucket.quantity, quantity);
      bucket.latestMs = Math.max(bucket.latestMs, atMs);
    }
    bucket.events += events;
  }

  function addToDimensions(
    meter: MeterDefinition,
    periodStartMs: number,
    properties: Record<string, string>,
    atMs: number,
    quantity: Decimal,
    events: number,
  ): void {
    for (const dimension of meter.groupBy) {
      const value = properties[dimension];
      if (value === undefined) {
        continue;
      }
      const key = `${meter.key}\u0000${periodStartMs}\u0000${dimension}\u0000${value}`;
      const change = dimensions.get(key);
      if (!change) {
        dimensions.set(key, {
          meter,
          periodStartMs,
          dimension,
          value,
          quantity,
          events,
          latestMs: atMs,
        });
      } else if (meter.aggregation === "latest") {
        if (atMs >= change.latestMs) {
          change.quantity = quantity;
          change.latestMs = atMs;
        }
        change.events += events;
      } else {
        change.quantity = combine(meter.aggregation, change.quantity, quantity);
        change.events += events;
        change.latestMs = Math.max(change.latestMs, atMs);
      }
    }
  }

  function loadSeries(meter: MeterDefinition, series: string): SeriesState | null {
    const key = `${meter.key}\u0000${series}`;
    const cached = seriesCache.get(key);
    if (cached) {
      return cached;
    }
    const row = sql
      .exec<{ level: string; last_ms: number; dims: string; open: number }>(
        "SELECT level, last_ms, dims, open FROM series WHERE meter = ? AND series = ?",
        meter.key,
        series,
      )
      .toArray()[0];
    if (!row) {
      return null;
    }
    const state: SeriesState = {
      level: Decimal.from(row.level),
      lastMs: row.last_ms,
      dims: JSON.parse(row.dims) as Record<string, string>,
      open: row.open === 1,
      dirty: false,
    };
    seriesCache.set(key, state);
    return state;
  }

  function resolveValue(event: IndexedEvent, meter: MeterDefinition): Decimal | EventRejectionCode {
    let text = event.value;
    if (text === null && meter.valueProperty !== null) {
      const raw = event.properties[meter.valueProperty];
      if (raw !== undefined) {
        const canonical = canonicalDecimal(raw);
        if (canonical === "VALUE_NOT_DECIMAL" || canonical === "VALUE_OUT_OF_RANGE") {
          return canonical;
        }
        text = canonical;
      }
    }
    if (text === null) {
      return "VALUE_REQUIRED";
    }
    const value = Decimal.from(text);
    if (value.isNegative() && !meter.allowNegative) {
      return "VALUE_NEGATIVE";
    }
    return value;
  }

  function fingerprintOf(event: IndexedEvent): string {
    return payloadFingerprint(
      event.meter,
      event.value,
      event.timeFromArrival ? null : event.timeMs,
      event.properties,
    );
  }

  /** Stored fingerprints of ids already seen in earlier batches. */
  function storedFingerprints(ids: string[]): Map<string, string> {
    const found = new Map<string, string>();
    for (let i = 0; i < ids.length; i += MAX_BOUND_PARAMETERS) {
      const chunk = ids.slice(i, i + MAX_BOUND_PARAMETERS);
      const placeholders = chunk.map(() => "?").join(",");
      for (const row of sql.exec<{ event_id: string; fingerprint: string }>(
        `SELECT event_id, fingerprint FROM seen_events WHERE event_id IN (${placeholders})`,
        ...chunk,
      )) {
        found.set(row.event_id, row.fingerprint);
      }
    }
    return found;
  }

  function release(event: IndexedEvent): void {
    sql.exec("DELETE FROM seen_events WHERE event_id = ?", event.id);
  }

  // Phase 1: checks that need only the event, the catalogue and the clock.
  interface Candidate {
    event: IndexedEvent;
    meter: MeterDefinition;
    value: Decimal;
    uniqueValue: string | null;
    series: string | null;
    period: { startMs: number; endMs: number };
    fingerprint: string;
  }
  const candidates: Candidate[] = [];
  const lateOrClosed: { event: IndexedEvent; code: EventRejectionCode }[] = [];
  for (const event of events) {
    const meter = ctx.meters.get(event.meter);
    if (!meter) {
      result.rejected.push(
        rejection(event, "UNKNOWN_METER", `no meter with key ${JSON.stringify(event.meter)}`),
      );
      continue;
    }

    let value: Decimal = ZERO;
    let uniqueValue: string | null = null;
    let series: string | null = null;
    if (meter.aggregation === "unique_count") {
      uniqueValue =
        (meter.valueProperty ? event.properties[meter.valueProperty] : undefined) ?? event.value;
      if (uniqueValue === null || uniqueValue === undefined) {
        result.rejected.push(
          rejection(
            event,
            "VALUE_REQUIRED",
            `unique_count meter ${meter.key} counts property ${meter.valueProperty}`,
          ),
        );
        continue;
      }
    } else if (meter.aggregation !== "count") {
      const resolved = resolveValue(event, meter);
      if (!(resolved instanceof Decimal)) {
        result.rejected.push(rejection(event, resolved));
        continue;
      }
      value = resolved;
    }
    if (meter.aggregation === "time_weighted") {
      series = meter.seriesProperty ? (event.properties[meter.seriesProperty] ?? null) : null;
      if (series === null) {
        result.rejected.push(
          rejection(
            event,
            "SERIES_REQUIRED",
            `meter ${meter.key} needs property ${meter.seriesProperty}`,
          ),
        );
        continue;
      }
    }
    if (event.timeMs < oldestAcceptedMs) {
      lateOrClosed.push({ event, code: "TIME_TOO_OLD" });
      continue;
    }
    if (event.timeMs > nowMs + INGEST_LIMITS.maxFutureSkewMs) {
      lateOrClosed.push({ event, code: "TIME_IN_FUTURE" });
      continue;
    }
    const period = ctx.periodContaining(event.timeMs);
    if (sealed.has(period.startMs)) {
      lateOrClosed.push({ event, code: "PERIOD_CLOSED" });
      continue;
    }
    candidates.push({
      event,
      meter,
      value,
      uniqueValue,
      series,
      period,
      fingerprint: fingerprintOf(event),
    });
  }

  // A refused event that was accepted before (a retry after its period closed, say) is reported
  // as the duplicate it is, not as a rejection.
  if (lateOrClosed.length > 0) {
    const stored = storedFingerprints(lateOrClosed.map((r) => r.event.id));
    for (const { event, code } of lateOrClosed) {
      if (stored.get(event.id) === fingerprintOf(event)) {
        result.duplicates += 1;
      } else {
        result.rejected.push(rejection(event, code));
      }
    }
  }

  // Phase 2: claim ids in bulk. The first occurrence of an id in the batch claims it; later ones
  // are duplicates or conflicts of it. Ids claimed by earlier batches come back from storage.
  const firstInBatch = new Map<string, string>();
  const toClaim: Candidate[] = [];
  const claimed: Candidate[] = [];
  for (const candidate of candidates) {
    const earlier = firstInBatch.get(candidate.event.id);
    if (earlier === undefined) {
      firstInBatch.set(candidate.event.id, candidate.fingerprint);
      toClaim.push(candidate);
    } else if (earlier === candidate.fingerprint) {
      result.duplicates += 1;
    } else {
      result.rejected.push(rejection(candidate.event, "ID_CONFLICT"));
    }
  }
  const inserted = new Set<string>();
  for (let i = 0; i < toClaim.length; i += CLAIM_ROWS_PER_STATEMENT) {
    const chunk = toClaim.slice(i, i + CLAIM_ROWS_PER_STATEMENT);
    const bindings: SqlValue[] = [];
    for (const c of chunk) {
      bindings.push(c.event.id, c.fingerprint, c.event.timeMs);
    }
    for (const row of sql.exec<{ event_id: string }>(
      `INSERT INTO seen_events (event_id, fingerprint, time_ms) VALUES ${chunk.map(() => "(?, ?, ?)").join(",")}
       ON CONFLICT (event_id) DO NOTHING RETURNING event_id`,
      ...bindings,
    )) {
      inserted.add(row.event_id);
    }
  }
  const seenBefore = toClaim.filter((c) => !inserted.has(c.event.id));
  const stored =
    seenBefore.length > 0 ? storedFingerprints(seenBefore.map((c) => c.event.id)) : new Map();
  for (const candidate of toClaim) {
    if (inserted.has(candidate.event.id)) {
      claimed.push(candidate);
    } else if (stored.get(candidate.event.id) === candidate.fingerprint) {
      result.duplicates += 1;
    } else {
      result.rejected.push(rejection(candidate.event, "ID_CONFLICT"));
    }
  }

  // Phase 3: aggregate the newly claimed events, in request order.
  claimed.sort((a, b) => a.event.index - b.event.index);
  for (const { event, meter, value, uniqueValue, series, period } of claimed) {
    if (meter.aggregation === "time_weighted" && series !== null) {
      const state = loadSeries(meter, series);
      if (state && event.timeMs < state.lastMs) {
        release(event);
        result.rejected.push(rejection(event, "SAMPLE_OUT_OF_ORDER"));
        continue;
      }
      const heartbeatMs = (meter.heartbeatTimeoutSeconds ?? 0) * 1000;
      if (
        state?.open &&
        event.timeMs > state.lastMs &&
        event.timeMs - state.lastMs <= heartbeatMs
      ) {
        const pieces = splitAccrual(ctx, state.lastMs, event.timeMs);
        if (pieces.some((piece) => sealed.has(piece.periodStartMs))) {
          release(event);
          result.rejected.push(
            rejection(
              event,
              "PERIOD_CLOSED",
              "the accrual since this series' previous sample reaches a closed period",
            ),
          );
          continue;
        }
        for (const piece of pieces) {
          const quantity = state.level.mul(Decimal.fromParts(BigInt(piece.toMs - piece.fromMs), 3));
          const segment = ctx.segmentAt(piece.fromMs);
          const group = groupFor(meter, piece.periodStartMs, piece.periodEndMs, segment);
          group.dayDeltas.set(
            piece.dayKey,
            (group.dayDeltas.get(piece.dayKey) ?? ZERO).add(quantity),
          );
          addToBucket(meter, piece.fromMs, quantity, 0);
          addToDimensions(meter, piece.periodStartMs, state.dims, piece.fromMs, quantity, 0);
          if (!knownPeriods.has(piece.periodStartMs)) {
            newPeriods.set(piece.periodStartMs, piece.periodEndMs);
          }
        }
      }
      const next: SeriesState = {
        level: value,
        lastMs: event.timeMs,
        dims: event.properties,
        open: !value.isZero(),
        dirty: true,
      };
      seriesCache.set(`${meter.key}\u0000${series}`, next);
    }

    result.accepted += 1;
    if (!knownPeriods.has(period.startMs)) {
      newPeriods.set(period.startMs, period.endMs);
    }
    const segment = ctx.segmentAt(event.timeMs);
    const day = ctx.dayContaining(event.timeMs);
    const group = groupFor(meter, period.startMs, period.endMs, segment);
    group.events += 1;
    group.dayEvents.set(day.key, (group.dayEvents.get(day.key) ?? 0) + 1);
    result.events.push({
      id: event.id,
      meter: meter.key,
      value:
        event.value ??
        (meter.aggregation === "count" || meter.aggregation === "unique_count"
          ? null
          : value.toString()),
      timeMs: event.timeMs,
      receivedMs: nowMs,
      periodStartMs: period.startMs,
      properties: event.properties,
    });

    switch (meter.aggregation) {
      case "sum":
      case "count": {
        const quantity = meter.aggregation === "count" ? Decimal.ONE : value;
        group.dayDeltas.set(day.key, (group.dayDeltas.get(day.key) ?? ZERO).add(quantity));
        addToBucket(meter, event.timeMs, quantity, 1);
        addToDimensions(meter, period.startMs, event.properties, event.timeMs, quantity, 1);
        const price = segment.priceFor(meter.key);
        if (price?.perEvent) {
          group.perEventAmount = group.perEventAmount.add(price.ratePerEvent(value));
        }
        break;
      }
      case "max":
      case "latest": {
        const wins =
          group.candidate === null ||
          (meter.aggregation === "max"
            ? value.gt(group.candidate)
            : event.timeMs > group.candidateMs ||
              (event.timeMs === group.candidateMs && event.id > group.candidateId));
        if (wins) {
          group.candidate = value;
          group.candidateMs = event.timeMs;
          group.candidateId = event.id;
          group.candidateDay = day.key;
        }
        addToBucket(meter, event.timeMs, value, 1);
        addToDimensions(meter, period.startMs, event.properties, event.timeMs, value, 1);
        break;
      }
      case "unique_count": {
        const fresh = sql.exec(
          "INSERT INTO unique_values (meter, period_start, segment, value) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
          meter.key,
          period.startMs,
          segment.id,
          uniqueValue ?? "",
        ).rowsWritten;
        const quantity = fresh > 0 ? Decimal.ONE : ZERO;
        group.dayDeltas.set(day.key, (group.dayDeltas.get(day.key) ?? ZERO).add(quantity));
        addToBucket(meter, event.timeMs, quantity, 1);
        addToDimensions(meter, period.startMs, event.properties, event.timeMs, quantity, 1);
        break;
      }
      case "time_weighted":
        addToBucket(meter, event.timeMs, ZERO, 1);
        break;
    }
  }

  let recordNumber = 0;
  for (const group of groups.values()) {
    const totalsKey = `${group.meter.key}\u0000${group.periodStartMs}\u0000${group.segment.id}`;
    let row = cache.totals.get(totalsKey);
    if (row === undefined) {
      const stored = sql
        .exec<{
          quantity: string;
          amount: string;
          events: number;
          latest_ms: number | null;
          latest_id: string | null;
        }>(
          "SELECT quantity, amount, events, latest_ms, latest_id FROM totals WHERE meter = ? AND period_start = ? AND segment = ?",
          group.meter.key,
          group.periodStartMs,
          group.segment.id,
        )
        .toArray()[0];
      row = stored
        ? {
            quantity: stored.quantity,
            amount: stored.amount,
            events: stored.events,
            latestMs: stored.latest_ms,
            latestId: stored.latest_id,
          }
        : null;
    }
    let quantity = row ? Decimal.from(row.quantity) : ZERO;
    let amount = row ? Decimal.from(row.amount) : ZERO;
    let latestMs = row?.latestMs ?? null;
    let latestId = row?.latestId ?? null;
    const price = group.segment.priceFor(group.meter.key);
    const changes: { day: string; quantityDelta: Decimal; amountDelta: Decimal; events: number }[] =
      [];

    if (group.meter.aggregation === "max" || group.meter.aggregation === "latest") {
      let next = quantity;
      if (group.candidate !== null) {
        if (group.meter.aggregation === "max") {
          next = row ? quantity.max(group.candidate) : group.candidate;
        } else if (
          latestMs === null ||
          group.candidateMs > latestMs ||
          (group.candidateMs === latestMs && group.candidateId > (latestId ?? ""))
        ) {
          next = group.candidate;
          latestMs = group.candidateMs;
          latestId = group.candidateId;
        }
      }
      const amountDelta = price && !price.perEvent ? price.rateIncrement(quantity, next) : ZERO;
      changes.push({
        day: group.candidateDay,
        quantityDelta: next.sub(quantity),
        amountDelta,
        events: group.events,
      });
      quantity = next;
      amount = amount.add(amountDelta);
    } else {
      const days = [...new Set([...group.dayDeltas.keys(), ...group.dayEvents.keys()])].sort();
      for (const day of days) {
        const delta = group.dayDeltas.get(day) ?? ZERO;
        const next = quantity.add(delta);
        const amountDelta = price && !price.perEvent ? price.rateIncrement(quantity, next) : ZERO;
        changes.push({
          day,
          quantityDelta: delta,
          amountDelta,
          events: group.dayEvents.get(day) ?? 0,
        });
        quantity = next;
        amount = amount.add(amountDelta);
      }
      if (price?.perEvent && !group.perEventAmount.isZero()) {
        const last = changes[changes.length - 1];
        if (last) {
          last.amountDelta = last.amountDelta.add(group.perEventAmount);
        }
        amount = amount.add(group.perEventAmount);
      }
    }

    const written: TotalsRow = {
      quantity: quantity.toString(),
      amount: amount.toString(),
      events: (row?.events ?? 0) + group.events,
      latestMs,
      latestId,
    };
    sql.exec(
      `INSERT INTO totals (meter, period_start, segment, quantity, amount, events, latest_ms, latest_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (meter, period_start, segment) DO UPDATE SET
         quantity = excluded.quantity, amount = excluded.amount, events = excluded.events,
         latest_ms = excluded.latest_ms, latest_id = excluded.latest_id`,
      group.meter.key,
      group.periodStartMs,
      group.segment.id,
      written.quantity,
      written.amount,
      written.events,
      latestMs,
      latestId,
    );
    cache.totals.set(totalsKey, written);

    let runningQuantity = row ? Decimal.from(row.quantity) : ZERO;
    let runningAmount = row ? Decimal.from(row.amount) : ZERO;
    for (const change of changes) {
      runningQuantity = runningQuantity.add(change.quantityDelta);
      runningAmount = runningAmount.add(change.amountDelta);
      if (change.quantityDelta.isZero() && change.amountDelta.isZero() && change.events === 0) {
        continue;
      }
      result.records.push({
        recordId: String(recordNumber),
        meter: group.meter.key,
        periodStartMs: group.periodStartMs,
        periodEndMs: group.periodEndMs,
        segment: group.segment.id,
        planId: group.segment.planId,
        day: change.day,
        quantityDelta: change.quantityDelta.toString(),
        amountDelta: change.amountDelta.toString(),
        currency: group.segment.currency,
        eventCount: change.events,
        quantityTotal: runningQuantity.toString(),
        amountTotal: runningAmount.toString(),
      });
      recordNumber += 1;
      if (group.segment.planId !== null && !change.amountDelta.isZero()) {
        const spent = result.spendDeltas.get(group.periodStartMs) ?? ZERO;
        result.spendDeltas.set(group.periodStartMs, spent.add(change.amountDelta));
      }
    }
  }

  for (const bucket of buckets.values()) {
    const latest = bucket.meter.aggregation === "latest";
    const max = bucket.meter.aggregation === "max";
    const bucketKey = `${bucket.meter.key}\u0000${bucket.minuteMs}`;
    let cached = cache.buckets.get(bucketKey);
    if (cached === undefined) {
      const stored = sql
        .exec<{ quantity: string; events: number; latest_ms: number | null }>(
          "SELECT quantity, events, latest_ms FROM minute_buckets WHERE meter = ? AND minute_ms = ?",
          bucket.meter.key,
          bucket.minuteMs,
        )
        .toArray()[0];
      cached = stored
        ? { quantity: stored.quantity, events: stored.events, latestMs: stored.latest_ms }
        : null;
    }
    const existing = cached ? { quantity: cached.quantity, latest_ms: cached.latestMs } : undefined;
    let quantity = bucket.quantity;
    let latestMs = bucket.latestMs;
    if (existing) {
      const before = Decimal.from(existing.quantity);
      if (latest) {
        if ((existing.latest_ms ?? 0) > bucket.latestMs) {
          quantity = before;
          latestMs = existing.latest_ms ?? bucket.latestMs;
        }
      } else {
        quantity = max ? before.max(bucket.quantity) : before.add(bucket.quantity);
        latestMs = Math.max(existing.latest_ms ?? 0, bucket.latestMs);
      }
    }
    const bucketRow: BucketRow = {
      quantity: quantity.toString(),
      events: (cached?.events ?? 0) + bucket.events,
      latestMs,
    };
    sql.exec(
      `INSERT INTO minute_buckets (meter, minute_ms, quantity, events, latest_ms) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (meter, minute_ms) DO UPDATE SET
         quantity = excluded.quantity, events = excluded.events, latest_ms = excluded.latest_ms`,
      bucket.meter.key,
      bucket.minuteMs,
      bucketRow.quantity,
      bucketRow.events,
      latestMs,
    );
    cache.buckets.set(bucketKey, bucketRow);
  }

  for (const change of dimensions.values()) {
    const existing = sql
      .exec<{ quantity: string; latest_ms: number | null }>(
        "SELECT quantity, latest_ms FROM dimension_totals WHERE meter = ? AND period_start = ? AND dimension = ? AND dim_value = ?",
        change.meter.key,
        change.periodStartMs,
        change.dimension,
        change.value,
      )
      .toArray()[0];
    let quantity = change.quantity;
    let latestMs = change.latestMs;
    if (existing) {
      const before = Decimal.from(existing.quantity);
      if (change.meter.aggregation === "latest") {
        if ((existing.latest_ms ?? 0) > change.latestMs) {
          quantity = before;
          latestMs = existing.latest_ms ?? change.latestMs;
        }
      } else {
        quantity = combine(change.meter.aggregation, before, change.quantity);
        latestMs = Math.max(existing.latest_ms ?? 0, change.latestMs);
      }
    }
    sql.exec(
      `INSERT INTO dimension_totals (meter, period_start, dimension, dim_value, quantity, events, latest_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (meter, period_start, dimension, dim_value) DO UPDATE SET
         quantity = excluded.quantity, events = events + excluded.events, latest_ms = excluded.latest_ms`,
      change.meter.key,
      change.periodStartMs,
      change.dimension,
      change.value,
      quantity.toString(),
      change.events,
      latestMs,
    );
  }

  for (const [key, state] of seriesCache) {
    if (!state.dirty) {
      continue;
    }
    const [meterKey, series] = key.split("\u0000") as [string, string];
    sql.exec(
      `INSERT INTO series (meter, series, level, last_ms, dims, open) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (meter, series) DO UPDATE SET
         level = excluded.level, last_ms = excluded.last_ms, dims = excluded.dims, open = excluded.open`,
      meterKey,
      series,
      state.level.toString(),
      state.lastMs,
      JSON.stringify(state.dims),
      state.open ? 1 : 0,
    );
  }

  for (const [startMs, endMs] of newPeriods) {
    sql.exec(
      "INSERT INTO periods (start_ms, end_ms) VALUES (?, ?) ON CONFLICT DO NOTHING",
      startMs,
      endMs,
    );
    periodCache.set(startMs, { endMs, sealed: false });
  }
  cache.trim();
  return result;
}
