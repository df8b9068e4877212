/**
 * Just enough SQL lexing to serve the HTTP interface faithfully: the output format a query
 * asks for, whether it holds more than one statement (the real server refuses those), the
 * shape of a client-web insert, and safe literals for the statements we generate ourselves.
 */

export interface SqlShape {
  /** Nothing but whitespace and comments. */
  empty: boolean;
  /** First keyword, upper-cased ("SELECT", "INSERT", "WITH"...); "" if none. */
  verb: string;
  /** The name after a top-level `FORMAT` that ends the query (or precedes `SETTINGS`). */
  outputFormat: string | undefined;
  /** True when a `;` is followed by another statement. */
  multiStatement: boolean;
}

const WORD_CHAR = /[A-Za-z0-9_]/;

/** Index just past a quoted run opened at `start`; quotes escape by backslash or doubling. */
function skipQuoted(sql: string, start: number): number {
  const quote = sql[start];
  let i = start + 1;
  while (i < sql.length) {
    const c = sql[i];
    if (c === "\\") {
      i += 2;
      continue;
    }
    if (c === quote) {
      if (sql[i + 1] === quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i += 1;
  }
  return i;
}

function skipComment(sql: string, start: number): number {
  if (sql.startsWith("/*", start)) {
    const end = sql.indexOf("*/", start + 2);
    return end < 0 ? sql.length : end + 2;
  }
  const end = sql.indexOf("\n", start);
  return end < 0 ? sql.length : end + 1;
}

/**
 * Scans a query's top level. Inserts stop at their `FORMAT`/`VALUES` keyword because what
 * follows is data, which may contain anything, semicolons included.
 */
export function shapeOf(sql: string): SqlShape {
  const words: string[] = [];
  let semicolonAt = -1;
  let multiStatement = false;
  let i = 0;
  while (i < sql.length) {
    const c = sql[i] as string;
    if (c === "'" || c === '"' || c === "`") {
      i = skipQuoted(sql, i);
      words.push("");
    } else if (sql.startsWith("--", i) || sql.startsWith("/*", i) || c === "#") {
      i = skipComment(sql, i);
    } else if (WORD_CHAR.test(c)) {
      let end = i + 1;
      while (end < sql.length && WORD_CHAR.test(sql[end] as string)) {
        end += 1;
      }
      words.push(sql.slice(i, end));
      i = end;
    } else {
      if (c === ";") {
        semicolonAt = words.length;
      } else if (!/\s/.test(c)) {
        words.push("");
      }
      i += 1;
    }
    if (semicolonAt >= 0 && words.length > semicolonAt) {
      multiStatement = true;
      break;
    }
    const last = (words.at(-1) ?? "").toUpperCase();
    if (
      verbOf(words) === "INSERT" &&
      (last === "VALUES" || words.at(-2)?.toUpperCase() === "FORMAT")
    ) {
      break;
    }
  }
  const verb = verbOf(words);
  return {
    empty: words.length === 0,
    verb,
    outputFormat: verb === "INSERT" ? undefined : trailingFormat(words),
    multiStatement,
  };
}

function verbOf(words: string[]): string {
  return (words.find((word) => word !== "") ?? "").toUpperCase();
}

function trailingFormat(words: string[]): string | undefined {
  for (let k = words.length - 2; k >= 0; k -= 1) {
    if (words[k]?.toUpperCase() === "FORMAT") {
      const name = words[k + 1];
      const after = words[k + 2];
      if (name && (after === undefined || after.toUpperCase() === "SETTINGS")) {
        return name;
      }
      return undefined;
    }
  }
  return undefined;
}

const IDENT = "[A-Za-z_][A-Za-z0-9_]*";
const INSERT_RE = new RegExp(
  `^\\s*INSERT\\s+INTO\\s+(?:TABLE\\s+)?(${IDENT}(?:\\.${IDENT})?)\\s*(?:\\(([^()]*)\\))?\\s*FORMAT\\s+(${IDENT})\\s*$`,
  "i",
);
const IDENT_RE = new RegExp(`^${IDENT}$`);

/** An insert whose rows arrive as the request body, in a shape chdb can take zero-copy. */
export interface InsertTarget {
  table: string;
  columns: string[] | undefined;
  format: string;
}

/**
 * Recognises `INSERT INTO t [(a, b)] FORMAT X` with plain identifiers (what client-web sends in
 * the `query` URL parameter). Anything fancier returns undefined and runs as inline SQL.
 */
export function insertTargetOf(query: string): InsertTarget | undefined {
  const match = INSERT_RE.exec(query);
  if (!match) {
    return undefined;
  }
  const [, table, columnList, format] = match;
  let columns: string[] | undefined;
  if (columnList !== undefined) {
    columns = columnList.split(",").map((column) => column.trim());
    if (!columns.every((column) => IDENT_RE.test(column))) {
      return undefined;
    }
  }
  return { table: table as string, columns, format: format as string };
}

const LITERAL_ESCAPES: Record<string, string> = {
  "\\": "\\\\",
  "'": "\\'",
  "\0": "\\0",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
};

/** A single-quoted ClickHouse string literal whose value is exactly `value`. */
export function stringLiteral(value: string): string {
  return `'${value.replace(/[\\'\0\n\r\t]/g, (c) => LITERAL_ESCAPES[c] as string)}'`;
}

/** A back-quoted identifier, safe for any name. */
export function quoteIdentifier(name: string): string {
  return `\`${name.replace(/[\\`]/g, (c) => `\\${c}`)}\``;
}

/** Whether `name` can follow `SET` unquoted (setting and parameter names). */
export function isPlainName(name: string): boolean {
  return IDENT_RE.test(name);
}
