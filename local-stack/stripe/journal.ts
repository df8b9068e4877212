/**
 * Persistence for the sandbox: named tables of JSON rows kept in memory and journaled as JSON
 * lines to `<data>/journal.jsonl`. `flush()` appends one line per changed row; loading replays
 * the journal (the last line for a key wins) and rewrites it compactly.
 */
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";

interface JournalLine {
  /** Table name. */
  t: string;
  /** Row key. */
  k: string;
  /** Row value; absent means the row was deleted. */
  v?: unknown;
}

/** One table: a Map that remembers which keys changed since the last flush. */
export class Table<V> {
  readonly name: string;
  readonly #rows = new Map<string, V>();
  readonly #dirty = new Set<string>();

  constructor(name: string) {
    this.name = name;
  }

  get(key: string): V | undefined {
    return this.#rows.get(key);
  }

  has(key: string): boolean {
    return this.#rows.has(key);
  }

  values(): IterableIterator<V> {
    return this.#rows.values();
  }

  entries(): IterableIterator<[string, V]> {
    return this.#rows.entries();
  }

  get size(): number {
    return this.#rows.size;
  }

  set(key: string, value: V): void {
    this.#rows.set(key, value);
    this.#dirty.add(key);
  }

  /** Marks a row changed in place so the next flush writes it. */
  touch(key: string): void {
    if (this.#rows.has(key)) {
      this.#dirty.add(key);
    }
  }

  delete(key: string): void {
    if (this.#rows.delete(key)) {
      this.#dirty.add(key);
    }
  }

  /** Loads a row from the journal without marking it dirty. */
  restore(key: string, value: V | undefined): void {
    if (value === undefined) {
      this.#rows.delete(key);
    } else {
      this.#rows.set(key, value);
    }
  }

  /** Lines for rows changed since the last call. */
  drainDirty(): JournalLine[] {
    const lines: JournalLine[] = [];
    for (const key of this.#dirty) {
      const value = this.#rows.get(key);
      lines.push(
        value === undefined ? { t: this.name, k: key } : { t: this.name, k: key, v: value },
      );
    }
    this.#dirty.clear();
    return lines;
  }
}

/** The tables of one data folder and their journal file. */
export class Journal {
  readonly #file: string;
  readonly #tables = new Map<string, Table<unknown>>();

  constructor(dataDir: string) {
    this.#file = join(dataDir, "journal.jsonl");
  }

  /** The table called `name` (created empty on first use). */
  table<V>(name: string): Table<V> {
    let table = this.#tables.get(name);
    if (!table) {
      table = new Table<unknown>(name);
      this.#tables.set(name, table);
    }
    return table as Table<V>;
  }

  /**
   * Replays the journal into the tables, then rewrites it with only the live rows. A torn last
   * line (the process died mid-append) is ignored, as the request it belonged to never answered.
   */
  load(): void {
    if (existsSync(this.#file)) {
      const text = readFileSync(this.#file, "utf8");
      for (const line of text.split("\n")) {
        if (line === "") {
          continue;
        }
        let entry: JournalLine;
        try {
          entry = JSON.parse(line) as JournalLine;
        } catch {
          continue;
        }
        this.table(entry.t).restore(entry.k, entry.v);
      }
    }
    this.compact();
  }

  /** Appends every changed row; call after each request or background change. */
  flush(): void {
    const lines: string[] = [];
    for (const table of this.#tables.values()) {
      for (const entry of table.drainDirty()) {
        lines.push(JSON.stringify(entry));
      }
    }
    if (lines.length > 0) {
      appendFileSync(this.#file, `${lines.join("\n")}\n`);
    }
  }

  compact(): void {
    const lines: string[] = [];
    for (const table of this.#tables.values()) {
      table.drainDirty();
      for (const [key, value] of table.entries()) {
        lines.push(JSON.stringify({ t: table.name, k: key, v: value }));
      }
    }
    const temporary = `${this.#file}.tmp`;
    writeFileSync(temporary, lines.length > 0 ? `${lines.join("\n")}\n` : "");
    renameSync(temporary, this.#file);
  }
}
