import DataLoader from "dataloader";
import { couldBeId } from "../ids/ids.ts";
import { type Connection, type CursorKey, type PageArgs, toConnection } from "./connection.ts";

/** One parent's page request: which parent, which page, and any list filter. */
export interface PagedKey<Filter> extends PageArgs {
  parentId: string;
  filter: Filter;
}

/**
 * Fetches up to `first + 1` rows for each of `parentIds` (one query for all of them), after the
 * cursor `after` (still encoded; the fetcher decodes it with the arity it expects).
 */
export type PagedFetch<Filter, Row> = (
  parentIds: string[],
  args: PageArgs & { filter: Filter },
) => Promise<Row[]>;

/**
 * A DataLoader for a list field under a list of parents (an account's invoices, an invoice's
 * lines): keys asking for the same page shape are answered by one query for every parent, so a
 * page of N parents costs one query per distinct shape, not N. Keys are cached per request.
 */
export function pagedLoader<Filter, Row>(
  fetch: PagedFetch<Filter, Row>,
  parentOf: (row: Row) => string,
  keyOf: (row: Row) => CursorKey,
): DataLoader<PagedKey<Filter>, Connection<Row>, string> {
  return new DataLoader<PagedKey<Filter>, Connection<Row>, string>(
    async (keys) => {
      const groups = new Map<string, PagedKey<Filter>[]>();
      for (const key of keys) {
        const shape = JSON.stringify([key.first, key.after, key.filter]);
        const group = groups.get(shape) ?? [];
        group.push(key);
        groups.set(shape, group);
      }
      const answers = new Map<string, Connection<Row> | Error>();
      await Promise.all(
        [...groups.values()].map(async (group) => {
          const [sample] = group as [PagedKey<Filter>];
          const parentIds = [...new Set(group.map((k) => k.parentId))];
          try {
            const rows = await fetch(parentIds, {
              first: sample.first,
              after: sample.after,
              filter: sample.filter,
            });
            const byParent = new Map<string, Row[]>();
            for (const row of rows) {
              const list = byParent.get(parentOf(row)) ?? [];
              list.push(row);
              byParent.set(parentOf(row), list);
            }
            for (const key of group) {
              const mine = byParent.get(key.parentId) ?? [];
              answers.set(cacheKey(key), toConnection(mine, key.first, keyOf));
            }
          } catch (error) {
            for (const key of group) {
              answers.set(cacheKey(key), error instanceof Error ? error : new Error(String(error)));
            }
          }
        }),
      );
      return keys.map((key) => answers.get(cacheKey(key)) ?? new Error("no answer for key"));
    },
    { cacheKeyFn: cacheKey },
  );
}

function cacheKey(key: PagedKey<unknown>): string {
  return JSON.stringify([key.parentId, key.first, key.after, key.filter]);
}

/**
 * A DataLoader answering many ids with one fetch; ids without a row resolve to null, and so do
 * ids that cannot exist (`couldBeId`), which are never sent to the database. The batch
 * function's rows may come in any order.
 */
export function byIdLoader<Row>(
  fetch: (ids: string[]) => Promise<Row[]>,
  idOf: (row: Row) => string,
): DataLoader<string, Row | null> {
  return new DataLoader<string, Row | null>(async (ids) => {
    const possible = ids.filter(couldBeId);
    const rows = possible.length === 0 ? [] : await fetch(possible);
    const byId = new Map(rows.map((row) => [idOf(row), row]));
    return ids.map((id) => byId.get(id) ?? null);
  });
}

/** Like byIdLoader, for parents with any number of rows each (an empty list when none). */
export function groupLoader<Row>(
  fetch: (ids: string[]) => Promise<Row[]>,
  parentOf: (row: Row) => string,
): DataLoader<string, Row[]> {
  return new DataLoader<string, Row[]>(async (ids) => {
    const rows = await fetch([...ids]);
    const byParent = new Map<string, Row[]>();
    for (const row of rows) {
      const list = byParent.get(parentOf(row)) ?? [];
      list.push(row);
      byParent.set(parentOf(row), list);
    }
    return ids.map((id) => byParent.get(id) ?? []);
  });
}
