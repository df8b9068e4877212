/**
 * Stripe's v1 wire format: `application/x-www-form-urlencoded` bodies and query strings with
 * bracket nesting (`metadata[plan]=pro`, `expand[0]=latest_charge`, `expand[]=customer`).
 * Arrays stay index-keyed objects here; the endpoint that expects a list turns them into one.
 */
import { badRequest } from "./failure.ts";

export type FormValue = string | FormObject;
export interface FormObject {
  [key: string]: FormValue;
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part.replace(/\+/g, " "));
  } catch {
    throw badRequest(`Invalid URL encoding in ${JSON.stringify(part)}.`);
  }
}

/** Splits `a[b][c]` into `["a", "b", "c"]`; an empty `[]` segment stays "". */
function keyPath(key: string): string[] {
  const open = key.indexOf("[");
  if (open <= 0) {
    return [key];
  }
  const path = [key.slice(0, open)];
  const pattern = /\[([^\]]*)\]/y;
  pattern.lastIndex = open;
  let match = pattern.exec(key);
  while (match) {
    path.push(match[1] ?? "");
    if (pattern.lastIndex === key.length) {
      return path;
    }
    match = pattern.exec(key);
  }
  throw badRequest(`Invalid parameter name: ${key}`);
}

function assign(target: FormObject, path: string[], value: string, fullKey: string): void {
  let node = target;
  for (let i = 0; i < path.length; i += 1) {
    let segment = path[i] as string;
    if (segment === "") {
      segment = String(Object.keys(node).length);
    }
    if (i === path.length - 1) {
      if (typeof node[segment] === "object") {
        throw badRequest(`Invalid hash: ${fullKey} was given both as a hash and as a value.`);
      }
      node[segment] = value;
      return;
    }
    const next = node[segment];
    if (next === undefined) {
      const child: FormObject = {};
      node[segment] = child;
      node = child;
    } else if (typeof next === "string") {
      if (next !== "") {
        throw badRequest(`Invalid hash: ${fullKey} was given both as a hash and as a value.`);
      }
      // `metadata=&metadata[a]=b` clears then sets, as Stripe reads it.
      const child: FormObject = {};
      node[segment] = child;
      node = child;
    } else {
      node = next;
    }
  }
}

/**
 * Parses a form body or query string (without the leading `?`) into nested objects.
 * Throws a 400 invalid_request_error for malformed names or encodings.
 */
export function parseForm(text: string): FormObject {
  const out: FormObject = {};
  if (text === "") {
    return out;
  }
  for (const pair of text.split("&")) {
    if (pair === "") {
      continue;
    }
    const eq = pair.indexOf("=");
    const rawKey = eq < 0 ? pair : pair.slice(0, eq);
    const rawValue = eq < 0 ? "" : pair.slice(eq + 1);
    const key = decode(rawKey);
    assign(out, keyPath(key), decode(rawValue), key);
  }
  return out;
}

/** Flattens back to `a[b]`-style names, for fault matching and request logs. */
export function flattenForm(form: FormObject, prefix = ""): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(form)) {
    const name = prefix === "" ? key : `${prefix}[${key}]`;
    if (typeof value === "string") {
      out[name] = value;
    } else {
      Object.assign(out, flattenForm(value, name));
    }
  }
  return out;
}

/** Order-insensitive canonical text of a form, so equal parameters compare equal. */
export function canonicalForm(form: FormObject): string {
  const flat = flattenForm(form);
  return JSON.stringify(
    Object.keys(flat)
      .sort()
      .map((key) => [key, flat[key]]),
  );
}
