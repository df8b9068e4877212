/**
 * How the dashboard writes values for people, on the server's first paint. The client script
 * (assets/dashboard.client.js, FORMATS) writes the same values the same way on every update;
 * keep the two in step.
 */
export type ValueFormat =
  | "text"
  | "int"
  | "time"
  | "date"
  | "ms"
  | "bool"
  | "lower"
  | "reasons"
  | "counts"
  | "disputes"
  | "list";

/** The value at a dotted path (`account.usage.amount.formatted`), or null. */
export function valueAt(data: unknown, path: string): unknown {
  let value: unknown = data;
  for (const part of path.split(".")) {
    if (value === null || value === undefined) {
      return null;
    }
    value = (value as Record<string, unknown>)[part];
  }
  return value === undefined ? null : value;
}

const pad = (n: number) => String(n).padStart(2, "0");

function utc(iso: unknown, withTime: boolean): string {
  const d = new Date(String(iso));
  if (Number.isNaN(d.getTime())) {
    return String(iso);
  }
  const day = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  return withTime
    ? `${day} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`
    : day;
}

interface Reason {
  rule: string;
  points: number;
  detail: string;
}

const FORMATS: Record<ValueFormat, (value: unknown) => string> = {
  text: (v) => String(v),
  int: (v) => Number(v).toLocaleString("en-US"),
  time: (v) => `${utc(v, true)} UTC`,
  date: (v) => utc(v, false),
  ms: (v) => `${Number(v).toLocaleString("en-US")} ms`,
  bool: (v) => (v ? "yes" : "no"),
  lower: (v) => String(v).toLowerCase().replaceAll("_", " "),
  reasons: (v) =>
    Array.isArray(v) && v.length > 0
      ? (v as Reason[]).map((r) => `${r.rule} (+${r.points}): ${r.detail}`).join("; ")
      : "—",
  counts: (v) =>
    Array.isArray(v) && v.length > 0
      ? (v as { status: string; count: number }[])
          .map((c) => `${c.status.toLowerCase()} ${c.count}`)
          .join(", ")
      : "none",
  disputes: (v) =>
    Array.isArray(v) && v.length > 0
      ? (v as { status: string; reason: string; amount: { formatted: string } }[])
          .map((d) => `${d.status} (${d.reason}) ${d.amount.formatted}`)
          .join("; ")
      : "none",
  list: (v) => (Array.isArray(v) && v.length > 0 ? v.join("; ") : "—"),
};

const LIST_FORMATS: ReadonlySet<ValueFormat> = new Set(["reasons", "counts", "disputes", "list"]);

/** A value as the page shows it; null (and empty lists, for most formats) read "—". */
export function formatValue(value: unknown, format: ValueFormat = "text"): string {
  const listFormat = LIST_FORMATS.has(format);
  if (
    value === null ||
    value === undefined ||
    (Array.isArray(value) && value.length === 0 && !listFormat)
  ) {
    return "—";
  }
  return FORMATS[format](value);
}
