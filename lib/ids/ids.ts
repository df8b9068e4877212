/**
 * Prefixed, time-sortable ids: `<prefix>_<10 chars of ms time><16 chars of randomness>`, both in
 * Crockford base32, so an id in a log says what it names and sorts by creation time.
 */
export const ID_PREFIXES = {
  account: "acct",
  apiKey: "key",
  event: "evt",
  request: "req",
  meter: "mtr",
  plan: "plan",
  planVersion: "planv",
  batch: "bat",
  invoice: "inv",
  invoiceLine: "invl",
  invoiceRun: "run",
  creditNote: "cn",
  creditGrant: "cg",
  creditEntry: "cle",
  payment: "pay",
  paymentAttempt: "att",
  deadLetter: "dlq",
  audit: "aud",
  risk: "risk",
  notification: "ntf",
  message: "msg",
  reconciliationRun: "rcn",
} as const;

export type IdKind = keyof typeof ID_PREFIXES;

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

export interface IdGenerator {
  next(kind: IdKind): string;
}

function encodeTime(ms: number): string {
  let value = Math.floor(ms);
  let out = "";
  for (let i = 0; i < 10; i += 1) {
    out = ALPHABET[value % 32] + out;
    value = Math.floor(value / 32);
  }
  return out;
}

function encodeRandom(bytes: Uint8Array): string {
  let out = "";
  for (const byte of bytes) {
    out += ALPHABET[byte % 32];
  }
  return out;
}

/** Builds an id generator reading time from `nowMs` (inject a fixed clock in tests). */
export function createIdGenerator(nowMs: () => number = Date.now): IdGenerator {
  return {
    next(kind) {
      const random = new Uint8Array(16);
      crypto.getRandomValues(random);
      return `${ID_PREFIXES[kind]}_${(encodeTime(nowMs()) + encodeRandom(random)).toLowerCase()}`;
    },
  };
}

/** True when `id` looks like an id of `kind` (prefix and alphabet only; not an existence check). */
export function isIdOf(kind: IdKind, id: string): boolean {
  const prefix = `${ID_PREFIXES[kind]}_`;
  return id.startsWith(prefix) && /^[0-9a-z]{26}$/.test(id.slice(prefix.length));
}

/**
 * Every id meterline issues (a prefix, `_`, 26 base32 characters) and every account id, meter key
 * or plan key it accepts from callers (lib/catalogue, lib/ingest): 1–64 letters, digits, `_`,
 * `.`, `:` or `-`, starting with a letter or digit.
 */
const POSSIBLE_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

/**
 * True when `text` could name something meterline stores (not an existence check). Anything else,
 * NUL or a lone surrogate above all, is "not found" without a lookup: Postgres refuses NUL in text.
 */
export function couldBeId(text: string): boolean {
  return POSSIBLE_ID.test(text);
}
