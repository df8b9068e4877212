/**
 * Everything the sandbox knows, journaled to disk: sandbox accounts (each with its own API keys,
 * clock and webhook endpoint), Stripe objects, idempotency records, webhook deliveries and
 * scheduled transitions. Objects belong to one account; another account's key cannot see them.
 */
import { Journal, type Table } from "./journal.ts";

/** The one API version whose object shapes the sandbox renders. */
export const MODELLED_API_VERSION = "2026-11-18.endive";

export type StripeObject = Record<string, unknown> & { id: string; object: string };

export interface Account {
  id: string;
  webhookSecret: string;
  /** Full endpoint URL (loopback only), or null for none. */
  webhookUrl: string | null;
  /** push: POST each event to the URL; pull: hold deliveries until a test fetches them. */
  webhookMode: "push" | "pull";
  /** First retry delay for failed pushes; doubles per attempt. */
  retryBaseMs: number;
  maxAttempts: number;
  /** Sandbox time = wall time + offset, or the frozen instant. */
  clockOffsetMs: number;
  frozenAtMs: number | null;
}

/** Facts Stripe keeps but does not show in the object. */
export interface Hidden {
  /** The test card number behind a card PaymentMethod (test numbers only). */
  cardNumber?: string;
  deleted?: boolean;
  /** An unattached PaymentMethod that was used once and cannot be used again. */
  consumed?: boolean;
}

export interface StoredObject {
  id: string;
  account: string;
  /** Insertion order, breaks ties between objects created in the same second. */
  seq: number;
  body: StripeObject;
  hidden: Hidden;
}

export interface IdempotencyRecord {
  apiKey: string;
  key: string;
  method: string;
  path: string;
  /** SHA-256 of the canonical parameters (the parameters themselves may hold card numbers). */
  paramsDigest: string;
  /** Sandbox seconds of first use; the key expires 24 hours later. */
  createdAt: number;
  state: "running" | "done";
  requestId: string;
  status?: number;
  body?: string;
}

export interface Delivery {
  id: string;
  account: string;
  eventId: string;
  seq: number;
  state: "held" | "pending" | "delivered" | "failed";
  attempts: number;
  nextAttemptAtMs: number | null;
  lastStatus: number | null;
  lastError: string | null;
}

/** A transition that happens by itself later, e.g. a processing payment settling. */
export interface Task {
  id: string;
  account: string;
  /** Sandbox seconds. */
  dueAt: number;
  kind: "settle_payment";
  target: string;
}

export class SandboxState {
  readonly journal: Journal;
  readonly accounts: Table<Account>;
  /** API key -> account id. */
  readonly apiKeys: Table<string>;
  readonly objects: Table<StoredObject>;
  readonly idempotency: Table<IdempotencyRecord>;
  readonly deliveries: Table<Delivery>;
  readonly tasks: Table<Task>;
  readonly meta: Table<unknown>;
  #seq: number;

  /** Opens (and replays) the journal in `dataDir`. */
  constructor(dataDir: string) {
    this.journal = new Journal(dataDir);
    this.accounts = this.journal.table("accounts");
    this.apiKeys = this.journal.table("apiKeys");
    this.objects = this.journal.table("objects");
    this.idempotency = this.journal.table("idempotency");
    this.deliveries = this.journal.table("deliveries");
    this.tasks = this.journal.table("tasks");
    this.meta = this.journal.table("meta");
    this.journal.load();
    this.#seq = Number(this.meta.get("seq") ?? 0);
  }

  nextSeq(): number {
    this.#seq += 1;
    this.meta.set("seq", this.#seq);
    return this.#seq;
  }

  accountForKey(apiKey: string): Account | undefined {
    const accountId = this.apiKeys.get(apiKey);
    return accountId === undefined ? undefined : this.accounts.get(accountId);
  }

  /** Milliseconds on the account's sandbox clock. */
  nowMs(account: Account): number {
    return account.frozenAtMs ?? Date.now() + account.clockOffsetMs;
  }

  /** Unix seconds on the account's sandbox clock (Stripe's `created` unit). */
  nowSeconds(account: Account): number {
    return Math.floor(this.nowMs(account) / 1000);
  }

  /** Moves the account's clock forward (never back). */
  advanceClock(account: Account, seconds: number): void {
    if (account.frozenAtMs === null) {
      account.clockOffsetMs += seconds * 1000;
    } else {
      account.frozenAtMs += seconds * 1000;
    }
    this.accounts.touch(account.id);
  }

  /** Stops or restarts the account's clock at its current reading. */
  setFrozen(account: Account, frozen: boolean): void {
    const nowMs = this.nowMs(account);
    if (frozen) {
      account.frozenAtMs = nowMs;
    } else {
      account.frozenAtMs = null;
      account.clockOffsetMs = nowMs - Date.now();
    }
    this.accounts.touch(account.id);
  }

  insert(account: Account, body: StripeObject, hidden: Hidden = {}): StoredObject {
    const stored: StoredObject = {
      id: body.id,
      account: account.id,
      seq: this.nextSeq(),
      body,
      hidden,
    };
    this.objects.set(body.id, stored);
    return stored;
  }

  /** Records an in-place change to an object for the next flush. */
  save(stored: StoredObject): void {
    this.objects.touch(stored.id);
  }

  /** The account's object with this id, if any (other accounts' objects are invisible). */
  find(account: Account, id: string): StoredObject | undefined {
    const stored = this.objects.get(id);
    return stored && stored.account === account.id ? stored : undefined;
  }

  /** The account's object with this id if it is of `type` (Stripe's `object` field). */
  findOfType(account: Account, id: string, type: string): StoredObject | undefined {
    const stored = this.find(account, id);
    return stored?.body.object === type ? stored : undefined;
  }

  /** The account's objects of one type (`object` field), newest first. */
  ofType(account: Account, type: string): StoredObject[] {
    const out: StoredObject[] = [];
    for (const stored of this.objects.values()) {
      if (stored.account === account.id && stored.body.object === type && !stored.hidden.deleted) {
        out.push(stored);
      }
    }
    return out.sort((a, b) => Number(b.body.created) - Number(a.body.created) || b.seq - a.seq);
  }

  flush(): void {
    this.journal.flush();
  }
}

/** A deep copy of a JSON value (objects are stored and snapshotted as plain JSON). */
export function clone<T>(value: T): T {
  return structuredClone(value);
}
