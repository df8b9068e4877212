import type { Child } from "hono/jsx";
import { formatValue, type ValueFormat, valueAt } from "./format.ts";

// Server-rendered building blocks whose markup the client script (assets/dashboard.client.js)
// keeps up to date: every value carries the path it came from in the GraphQL answer.

/** One value of the answer at `path`, written with `format`; `badge` colours it by value. */
export function Bind(props: {
  data: unknown;
  path: string;
  format?: ValueFormat;
  badge?: boolean;
}) {
  const value = valueAt(props.data, props.path);
  const text = formatValue(value, props.format);
  const badgeClass =
    props.badge === true
      ? `badge badge-${text === "—" ? "none" : String(value).toLowerCase()}`
      : undefined;
  return (
    <span
      data-bind={props.path}
      data-format={props.format}
      data-badge={props.badge === true ? "" : undefined}
      class={badgeClass}
    >
      {text}
    </span>
  );
}

/** A labelled figure in a `<dl class="stats">`. */
export function Stat(props: { data: unknown; label: string; path: string; format?: ValueFormat }) {
  return (
    <div>
      <dt>{props.label}</dt>
      <dd>
        <Bind data={props.data} path={props.path} format={props.format} />
      </dd>
    </div>
  );
}

/** A table column: a value path relative to the row's item, and how to show it. */
export interface Column {
  label: string;
  path: string;
  format?: ValueFormat;
  badge?: boolean;
  /** Right-aligned (figures). */
  num?: boolean;
  /** Makes the cell a link to `prefix` + the value at `path` of the item. */
  link?: { prefix: string; path: string };
}

function Cell(props: { column: Column; item: unknown }) {
  const { column, item } = props;
  const bound = <Bind data={item} path={column.path} format={column.format} badge={column.badge} />;
  const target = column.link ? valueAt(item, column.link.path) : null;
  return (
    <td class={column.num ? "num" : undefined}>
      {column.link ? (
        <a
          href={
            target === null ? "#" : `${column.link.prefix}${encodeURIComponent(String(target))}`
          }
          data-link-prefix={column.link.prefix}
          data-link-path={column.link.path}
        >
          {bound}
        </a>
      ) : (
        bound
      )}
    </td>
  );
}

/**
 * A table of the list at `list` in the answer, one row per item (keyed by `keyPath`), with a
 * `<template>` row the client clones when the list changes.
 */
export function LiveTable(props: {
  data: unknown;
  list: string;
  columns: Column[];
  empty: string;
  keyPath?: string;
  label: string;
}) {
  const items = (valueAt(props.data, props.list) as unknown[] | null) ?? [];
  return (
    <table aria-label={props.label}>
      <thead>
        <tr>
          {props.columns.map((c) => (
            <th class={c.num ? "num" : undefined} scope="col">
              {c.label}
            </th>
          ))}
        </tr>
      </thead>
      <tbody data-list={props.list} data-empty={props.empty} data-key-path={props.keyPath}>
        <template>
          <tr>
            {props.columns.map((c) => (
              <Cell column={c} item={null} />
            ))}
          </tr>
        </template>
        {items.length === 0 ? (
          <tr class="empty">
            <td colspan={props.columns.length}>{props.empty}</td>
          </tr>
        ) : (
          items.map((item) => (
            <tr data-key={props.keyPath ? String(valueAt(item, props.keyPath)) : undefined}>
              {props.columns.map((c) => (
                <Cell column={c} item={item} />
              ))}
            </tr>
          ))
        )}
      </tbody>
    </table>
  );
}

/** A panel of the page; `wide` spans the whole grid row. */
export function Panel(props: { title: string; wide?: boolean; children?: Child; id?: string }) {
  return (
    <section class={props.wide ? "panel wide" : "panel"} aria-labelledby={props.id}>
      <h2 id={props.id}>{props.title}</h2>
      {props.children}
    </section>
  );
}

/** What the client needs to keep a scope live: the query, its variables, the first answer. */
export interface LiveSpec {
  query: string;
  variables: Record<string, unknown>;
  data: unknown;
  intervalMs: number;
  /** Minute-bucket charts: the trailing window they cover (the client slides it). */
  span?: { minutes: number };
}

/**
 * The JSON block the client script reads. `<` is escaped so no value can close the script
 * element, whatever it contains.
 */
export function LiveScript(props: { scope: string; spec: LiveSpec }) {
  const json = JSON.stringify(props.spec).replaceAll("<", "\\u003c");
  return (
    <script
      type="application/json"
      data-live={props.scope}
      dangerouslySetInnerHTML={{ __html: json }}
    />
  );
}

/** Where the client reports how fresh a scope's figures are. */
export function LiveStatus(props: { scope: string; checkedAt: unknown }) {
  return (
    <p class="live-status" data-live-status={props.scope} data-state="live" aria-live="polite">
      {`Live · rendered ${formatValue(props.checkedAt, "time")}`}
    </p>
  );
}
