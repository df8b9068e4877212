/**
 * Planning for ClickHouse migrations (see `../clickhouse.ts`): split a file into statements and
 * decide, before anything runs, how each one is undone if a later one fails. Pure: no I/O.
 */

const NAME = '(`(?:[^`\\\\]|\\\\.)+`|"(?:[^"\\\\]|\\\\.)+"|[A-Za-z_][A-Za-z0-9_]*)';
const QUALIFIED = `${NAME}(?:\\.${NAME})?`;
const CREATE_RE = new RegExp(
  `^CREATE (TABLE|VIEW|MATERIALIZED VIEW|DICTIONARY|DATABASE|FUNCTION) (IF NOT EXISTS )?${QUALIFIED}`,
  "i",
);
const ADD_RE = new RegExp(
  `^ALTER TABLE ${QUALIFIED} ADD (COLUMN|INDEX) (IF NOT EXISTS )?${NAME}`,
  "i",
);
const TARGET_RE = new RegExp(`^(?:ALTER TABLE|INSERT INTO(?: TABLE)?) ${QUALIFIED}`, "i");

/** A database object: a database, function, or something in a database's `system.tables`. */
export interface ObjectRef {
  kind: string;
  database: string;
  name: string;
}

export interface Statement {
  text: string;
  /** The statement with comments removed and whitespace collapsed, for classifying. */
  head: string;
}

/** How one statement is undone if a later one fails. */
export type Step =
  | { statement: Statement; undo: "create"; ref: ObjectRef }
  | { statement: Statement; undo: "add"; table: ObjectRef; part: string; name: string }
  | { statement: Statement; undo: "covered" }
  | { statement: Statement; undo: "none" };

function unquote(name: string): string {
  return /^[`"]/.test(name) ? name.slice(1, -1).replace(/\\(.)/g, "$1") : name;
}

/** A back-quoted identifier, safe for any name. */
export function quote(name: string): string {
  return `\`${name.replace(/[\\`]/g, (c) => `\\${c}`)}\``;
}

function refOf(kind: string, first: string, second: string | undefined, db: string): ObjectRef {
  return second === undefined
    ? { kind, database: db, name: unquote(first) }
    : { kind, database: unquote(first), name: unquote(second) };
}

function createdBy(match: RegExpExecArray, database: string): ObjectRef {
  const [, kind = "", , first = "", second] = match;
  const upper = kind.toUpperCase();
  if (upper === "DATABASE" || upper === "FUNCTION") {
    return { kind: upper, database: "", name: unquote(second ?? first) };
  }
  return refOf(upper, first, second, database);
}

/** `database`.`name`, both quoted. */
export function qualified(ref: ObjectRef): string {
  return `${quote(ref.database)}.${quote(ref.name)}`;
}

/** Splits on `;` at the end of a line and drops pieces that are only comments. */
export function splitStatements(sql: string): Statement[] {
  return sql
    .split(/;[ \t]*(?:\r?\n|$)/)
    .map((text) => text.trim())
    .map((text) => ({
      text,
      head: text
        .replace(/\/\*[\s\S]*?\*\//g, " ")
        .replace(/--[^\n]*/g, " ")
        .replace(/\s+/g, " ")
        .trim(),
    }))
    .filter((statement) => statement.head !== "");
}

/** True when an ALTER holds more than one action (a comma outside brackets and quotes). */
function hasSeveralActions(text: string): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (c === "'" || c === '"' || c === "`") {
      const close = c;
      for (i += 1; i < text.length && text[i] !== close; i += 1) {
        if (text[i] === "\\") {
          i += 1;
        }
      }
    } else if (c === "(" || c === "[") {
      depth += 1;
    } else if (c === ")" || c === "]") {
      depth -= 1;
    } else if (c === "," && depth === 0) {
      return true;
    }
  }
  return false;
}

/**
 * Decides how each statement of one file is undone, refusing files that could not be undone:
 * CREATE/ADD without IF NOT EXISTS, or an irreversible statement before the last one.
 * `absent` holds the objects this file creates that do not exist yet.
 */
export function planSteps(
  migration: string,
  statements: Statement[],
  database: string,
  absent: (ref: ObjectRef) => boolean,
): Step[] {
  const created: ObjectRef[] = [];
  return statements.map((statement, index): Step => {
    const where = `${migration}, statement ${index + 1}`;
    const create = CREATE_RE.exec(statement.head);
    if (create) {
      const ref = createdBy(create, database);
      if (!create[2]) {
        throw new Error(`${where}: write CREATE ${ref.kind} IF NOT EXISTS`);
      }
      if (absent(ref)) {
        created.push(ref);
      }
      return { statement, undo: "create", ref };
    }
    if (/^CREATE /i.test(statement.head)) {
      throw new Error(`${where}: only TABLE, VIEW, DICTIONARY, DATABASE, FUNCTION can be created`);
    }
    const target = TARGET_RE.exec(statement.head);
    const table = target ? refOf("TABLE", target[1] ?? "", target[2], database) : undefined;
    if (
      table &&
      created.some((ref) => ref.database === table.database && ref.name === table.name)
    ) {
      return { statement, undo: "covered" };
    }
    const add = ADD_RE.exec(statement.head);
    if (add && table && !hasSeveralActions(statement.head)) {
      const [, , , part = "", ifNotExists, name = ""] = add;
      if (!ifNotExists) {
        throw new Error(`${where}: write ADD ${part.toUpperCase()} IF NOT EXISTS`);
      }
      return { statement, undo: "add", table, part: part.toUpperCase(), name: unquote(name) };
    }
    if (index !== statements.length - 1) {
      throw new Error(
        `${where}: this statement cannot be undone, so it must be the last of its migration ` +
          `(split the file): ${statement.head.slice(0, 80)}`,
      );
    }
    return { statement, undo: "none" };
  });
}

/** The statement that undoes creating `ref`. */
export function dropOf(ref: ObjectRef): string {
  switch (ref.kind) {
    case "DATABASE":
      return `DROP DATABASE IF EXISTS ${quote(ref.name)} SYNC`;
    case "FUNCTION":
      return `DROP FUNCTION IF EXISTS ${quote(ref.name)}`;
    case "DICTIONARY":
      return `DROP DICTIONARY IF EXISTS ${qualified(ref)}`;
    case "TABLE":
      return `DROP TABLE IF EXISTS ${qualified(ref)} SYNC`;
    default:
      return `DROP VIEW IF EXISTS ${qualified(ref)} SYNC`;
  }
}

/** The object a `CREATE` statement names, if it is one; databases and functions have no database. */
export function createdObject(statement: Statement, database: string): ObjectRef | undefined {
  const create = CREATE_RE.exec(statement.head);
  return create ? createdBy(create, database) : undefined;
}

/** The statement that undoes `ALTER TABLE table ADD part IF NOT EXISTS name`. */
export function dropPartOf(table: ObjectRef, part: string, name: string): string {
  return `ALTER TABLE ${qualified(table)} DROP ${part} IF EXISTS ${quote(name)}`;
}
