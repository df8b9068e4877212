/**
 * The subset of Stripe's search query language the sandbox understands:
 * `field:'value'` (exact, case-insensitive), `field~'sub'` (substring, 3+ characters),
 * `amount>100` / `>=` / `<` / `<=` on numeric fields, `metadata['key']:'value'`, `-` to negate,
 * `field:null`, clauses joined by all-`AND` or all-`OR` (never mixed), at most 10 clauses.
 * String values must be quoted, as Stripe requires. Search here is immediately consistent;
 * Stripe's index can lag by up to a minute (see docs/local-stack/stripe.md).
 */
import { badRequest, type StripeFailure } from "./failure.ts";
import type { StripeObject } from "./state.ts";

export type Operator = ":" | "~" | ">" | ">=" | "<" | "<=";

interface Clause {
  negate: boolean;
  field: string;
  metadataKey?: string;
  operator: Operator;
  value: string | number | null;
}

export interface SearchField {
  kind: "string" | "number" | "boolean";
  /** Whether `~` is allowed. */
  substring?: boolean;
  read(body: StripeObject): unknown;
}

export type SearchFields = Record<string, SearchField>;

const MAX_CLAUSES = 10;

function syntaxError(query: string, detail: string): StripeFailure {
  return badRequest(`Invalid query ${JSON.stringify(query)}: ${detail}`, "query");
}

class Scanner {
  readonly text: string;
  index = 0;

  constructor(text: string) {
    this.text = text;
  }

  skipSpace(): void {
    while (this.index < this.text.length && /\s/.test(this.text[this.index] as string)) {
      this.index += 1;
    }
  }

  done(): boolean {
    this.skipSpace();
    return this.index >= this.text.length;
  }

  peek(pattern: RegExp): string | undefined {
    this.skipSpace();
    pattern.lastIndex = this.index;
    const match = pattern.exec(this.text);
    return match ? match[0] : undefined;
  }

  take(pattern: RegExp): string | undefined {
    const token = this.peek(pattern);
    if (token !== undefined) {
      this.index += token.length;
    }
    return token;
  }

  quoted(): string | undefined {
    this.skipSpace();
    const quote = this.text[this.index];
    if (quote !== "'" && quote !== '"') {
      return undefined;
    }
    let out = "";
    for (let i = this.index + 1; i < this.text.length; i += 1) {
      const char = this.text[i] as string;
      if (char === "\\" && i + 1 < this.text.length) {
        out += this.text[i + 1];
        i += 1;
      } else if (char === quote) {
        this.index = i + 1;
        return out;
      } else {
        out += char;
      }
    }
    throw syntaxError(this.text, "unterminated quoted string");
  }
}

function parseClause(scanner: Scanner): Clause {
  const negate = scanner.take(/-/y) !== undefined;
  const field = scanner.take(/[A-Za-z_][A-Za-z0-9_.]*/y);
  if (field === undefined) {
    throw syntaxError(scanner.text, `expected a field name at position ${scanner.index}`);
  }
  let metadataKey: string | undefined;
  if (scanner.take(/\[/y) !== undefined) {
    metadataKey = scanner.quoted();
    if (metadataKey === undefined || scanner.take(/\]/y) === undefined) {
      throw syntaxError(scanner.text, "expected ['key'] after the field name");
    }
  }
  const operator = scanner.take(/>=|<=|:|~|>|</y) as Operator | undefined;
  if (operator === undefined) {
    throw syntaxError(scanner.text, `expected an operator after ${field}`);
  }
  let value: string | number | null;
  const quoted = scanner.quoted();
  if (quoted !== undefined) {
    value = quoted;
  } else if (scanner.take(/null\b/y) !== undefined) {
    value = null;
  } else {
    const number = scanner.take(/-?\d+(?:\.\d+)?/y);
    if (number === undefined) {
      throw syntaxError(scanner.text, `the value for ${field} must be quoted or a number`);
    }
    value = Number(number);
  }
  return {
    negate,
    field,
    operator,
    value,
    ...(metadataKey === undefined ? {} : { metadataKey }),
  };
}

function parse(query: string): { clauses: Clause[]; joiner: "AND" | "OR" } {
  const scanner = new Scanner(query);
  if (scanner.done()) {
    throw syntaxError(query, "the query is empty");
  }
  const clauses = [parseClause(scanner)];
  let joiner: "AND" | "OR" | undefined;
  while (!scanner.done()) {
    const word = scanner.take(/(AND|OR)\b/y) as "AND" | "OR" | undefined;
    if (word === undefined) {
      throw syntaxError(query, `expected AND or OR at position ${scanner.index}`);
    }
    if (joiner !== undefined && joiner !== word) {
      throw syntaxError(query, "AND and OR cannot be combined in one query");
    }
    joiner = word;
    clauses.push(parseClause(scanner));
  }
  if (clauses.length > MAX_CLAUSES) {
    throw syntaxError(query, `at most ${MAX_CLAUSES} clauses are allowed`);
  }
  return { clauses, joiner: joiner ?? "AND" };
}

/** Rejects operators the field's kind does not support, before any object is tested. */
function validate(field: SearchField, clause: Clause, query: string): void {
  const { operator, value } = clause;
  if (value === null && operator !== ":") {
    throw syntaxError(query, "null can only be used with ':'");
  }
  if (field.kind === "number") {
    if (operator === "~") {
      throw syntaxError(query, `${clause.field} does not support '~'`);
    }
    return;
  }
  if (operator !== ":" && operator !== "~") {
    throw syntaxError(query, `${clause.field} does not support '${operator}'`);
  }
  if (operator === "~") {
    if (!field.substring) {
      throw syntaxError(query, `${clause.field} does not support substring search`);
    }
    if (String(value).length < 3) {
      throw syntaxError(query, "substring search needs at least 3 characters");
    }
  }
}

function compare(field: SearchField, clause: Clause, actual: unknown): boolean {
  const { operator, value } = clause;
  if (value === null) {
    return actual === null || actual === undefined;
  }
  if (actual === null || actual === undefined) {
    return false;
  }
  if (field.kind === "number") {
    const expected = Number(value);
    const number = Number(actual);
    switch (operator) {
      case ">":
        return number > expected;
      case ">=":
        return number >= expected;
      case "<":
        return number < expected;
      case "<=":
        return number <= expected;
      default:
        return number === expected;
    }
  }
  const text = String(actual).toLowerCase();
  const wanted = String(value).toLowerCase();
  return operator === "~" ? text.includes(wanted) : text === wanted;
}

/**
 * Compiles `query` for a resource's searchable fields into a predicate. Unknown fields and bad
 * syntax are 400 invalid_request_error with param `query`.
 */
export function compileQuery(
  query: string,
  fields: SearchFields,
  resource: string,
): (body: StripeObject) => boolean {
  const { clauses, joiner } = parse(query);
  const tests = clauses.map((clause) => {
    let field: SearchField | undefined;
    if (clause.field === "metadata") {
      if (clause.metadataKey === undefined) {
        throw syntaxError(query, "metadata must be followed by ['key']");
      }
      const key = clause.metadataKey;
      field = {
        kind: "string",
        read: (body) => (body.metadata as Record<string, string> | undefined)?.[key],
      };
    } else if (clause.metadataKey === undefined) {
      field = fields[clause.field];
    }
    if (!field) {
      throw badRequest(
        `Field \`${clause.field}\` is an unsupported search field for resource \`${resource}\`. ` +
          `Supported: ${[...Object.keys(fields), "metadata"].join(", ")}.`,
        "query",
      );
    }
    validate(field, clause, query);
    const checked = field;
    return (body: StripeObject) => compare(checked, clause, checked.read(body)) !== clause.negate;
  });
  return joiner === "AND"
    ? (body) => tests.every((test) => test(body))
    : (body) => tests.some((test) => test(body));
}
