/**
 * Retry timing of the QStash sandbox: QStash's default exponential backoff, and the
 * `Upstash-Retry-Delay` expressions (arithmetic over `retried` with pow, sqrt, abs, exp, floor,
 * ceil, round, min, max; the result is milliseconds). Parsed once at publish time so a bad
 * expression is a 400 to the publisher, not a surprise at the first failure.
 */

/** QStash caps every retry delay at one day. */
export const MAX_RETRY_DELAY_MS = 86_400_000;

export class RetryDelaySyntaxError extends Error {
  override name = "RetryDelaySyntaxError";
}

type Node =
  | { kind: "number"; value: number }
  | { kind: "retried" }
  | { kind: "negate"; operand: Node }
  | { kind: "binary"; op: "+" | "-" | "*" | "/" | "%"; left: Node; right: Node }
  | { kind: "call"; name: string; args: Node[] };

const FUNCTIONS: Record<string, { arity: number | "many"; apply: (...args: number[]) => number }> =
  {
    pow: { arity: 2, apply: (a = 0, b = 0) => a ** b },
    sqrt: { arity: 1, apply: (a = 0) => Math.sqrt(a) },
    abs: { arity: 1, apply: (a = 0) => Math.abs(a) },
    exp: { arity: 1, apply: (a = 0) => Math.exp(a) },
    floor: { arity: 1, apply: (a = 0) => Math.floor(a) },
    ceil: { arity: 1, apply: (a = 0) => Math.ceil(a) },
    round: { arity: 1, apply: (a = 0) => Math.round(a) },
    min: { arity: "many", apply: (...args) => Math.min(...args) },
    max: { arity: "many", apply: (...args) => Math.max(...args) },
  };

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  const pattern = /\s*(\d+(?:\.\d+)?|[A-Za-z_]\w*|[-+*/%(),])\s*/y;
  let index = 0;
  while (index < text.length) {
    pattern.lastIndex = index;
    const match = pattern.exec(text);
    if (!match) {
      throw new RetryDelaySyntaxError(`unexpected "${text.slice(index)}" in "${text}"`);
    }
    tokens.push(match[1] as string);
    index = pattern.lastIndex;
  }
  return tokens;
}

/** Recursive descent over + - (lowest), * / %, unary minus, calls and parentheses. */
class Parser {
  #tokens: string[];
  #at = 0;

  constructor(tokens: string[]) {
    this.#tokens = tokens;
  }

  parse(): Node {
    const node = this.#sum();
    if (this.#at < this.#tokens.length) {
      throw new RetryDelaySyntaxError(`unexpected "${this.#tokens[this.#at]}"`);
    }
    return node;
  }

  #peek(): string | undefined {
    return this.#tokens[this.#at];
  }

  #take(expected?: string): string {
    const token = this.#tokens[this.#at];
    if (token === undefined || (expected !== undefined && token !== expected)) {
      throw new RetryDelaySyntaxError(`expected ${expected ?? "a value"}, got ${token ?? "end"}`);
    }
    this.#at += 1;
    return token;
  }

  #sum(): Node {
    let left = this.#product();
    while (this.#peek() === "+" || this.#peek() === "-") {
      const op = this.#take() as "+" | "-";
      left = { kind: "binary", op, left, right: this.#product() };
    }
    return left;
  }

  #product(): Node {
    let left = this.#unary();
    while (this.#peek() === "*" || this.#peek() === "/" || this.#peek() === "%") {
      const op = this.#take() as "*" | "/" | "%";
      left = { kind: "binary", op, left, right: this.#unary() };
    }
    return left;
  }

  #unary(): Node {
    if (this.#peek() === "-") {
      this.#take();
      return { kind: "negate", operand: this.#unary() };
    }
    if (this.#peek() === "+") {
      this.#take();
    }
    return this.#primary();
  }

  #primary(): Node {
    const token = this.#take();
    if (token === "(") {
      const inner = this.#sum();
      this.#take(")");
      return inner;
    }
    if (/^\d/.test(token)) {
      return { kind: "number", value: Number(token) };
    }
    if (token === "retried") {
      return { kind: "retried" };
    }
    const fn = FUNCTIONS[token];
    if (!fn) {
      throw new RetryDelaySyntaxError(`unknown name "${token}"`);
    }
    this.#take("(");
    const args: Node[] = [this.#sum()];
    while (this.#peek() === ",") {
      this.#take();
      args.push(this.#sum());
    }
    this.#take(")");
    if (fn.arity !== "many" && args.length !== fn.arity) {
      throw new RetryDelaySyntaxError(`${token} takes ${fn.arity} argument(s)`);
    }
    return { kind: "call", name: token, args };
  }
}

function evaluate(node: Node, retried: number): number {
  switch (node.kind) {
    case "number":
      return node.value;
    case "retried":
      return retried;
    case "negate":
      return -evaluate(node.operand, retried);
    case "call":
      return (FUNCTIONS[node.name] as (typeof FUNCTIONS)[string]).apply(
        ...node.args.map((arg) => evaluate(arg, retried)),
      );
    case "binary": {
      const left = evaluate(node.left, retried);
      const right = evaluate(node.right, retried);
      switch (node.op) {
        case "+":
          return left + right;
        case "-":
          return left - right;
        case "*":
          return left * right;
        case "/":
          return left / right;
        case "%":
          return left % right;
      }
    }
  }
}

/** A parsed `Upstash-Retry-Delay` expression. */
export interface RetryDelayExpression {
  source: string;
  /** Delay in ms before the next attempt, given how many retries happened before the failure. */
  delayMs(retried: number): number;
}

/** Parses a retry-delay expression; throws `RetryDelaySyntaxError` when it cannot be read. */
export function parseRetryDelay(source: string): RetryDelayExpression {
  if (source.trim() === "") {
    throw new RetryDelaySyntaxError("empty expression");
  }
  const tree = new Parser(tokenize(source)).parse();
  return {
    source,
    delayMs(retried) {
      const value = evaluate(tree, retried);
      // NaN or a negative result (e.g. a division by zero) retries at once rather than never.
      if (!Number.isFinite(value) || value <= 0) {
        return value === Number.POSITIVE_INFINITY ? MAX_RETRY_DELAY_MS : 0;
      }
      return Math.min(Math.round(value), MAX_RETRY_DELAY_MS);
    },
  };
}

/**
 * QStash's default backoff: after the failure of the attempt that had been retried `retried`
 * times, wait min(1 day, e^(2.5 * (retried + 1))) seconds: 12 s, 2 min 28 s, 30 min 8 s, ...
 */
export function defaultRetryDelayMs(retried: number): number {
  const seconds = Math.exp(2.5 * (retried + 1));
  return Math.min(Math.round(seconds * 1000), MAX_RETRY_DELAY_MS);
}
