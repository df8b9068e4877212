/**
 * The last API requests per account, in memory, so tests can check what a client sent (for
 * example that every money movement carried an idempotency key). Parameters are not kept: they
 * may hold card numbers.
 */
export interface LoggedRequest {
  requestId: string;
  method: string;
  path: string;
  idempotencyKey: string | null;
  status: number | null;
  replayed: boolean;
  fault: string | null;
  /** Wall-clock milliseconds. */
  atMs: number;
}

/** Requests remembered per account. */
const KEEP_PER_ACCOUNT = 1_000;

export class RequestLog {
  readonly #byAccount = new Map<string, LoggedRequest[]>();

  add(account: string, entry: LoggedRequest): void {
    let entries = this.#byAccount.get(account);
    if (!entries) {
      entries = [];
      this.#byAccount.set(account, entries);
    }
    entries.push(entry);
    if (entries.length > KEEP_PER_ACCOUNT) {
      entries.splice(0, entries.length - KEEP_PER_ACCOUNT);
    }
  }

  /** Oldest first, optionally only paths starting with `pathPrefix`, at most `limit` newest. */
  list(account: string, pathPrefix: string | null, limit: number): LoggedRequest[] {
    const entries = (this.#byAccount.get(account) ?? []).filter(
      (entry) => pathPrefix === null || entry.path.startsWith(pathPrefix),
    );
    return entries.slice(Math.max(0, entries.length - limit));
  }
}
