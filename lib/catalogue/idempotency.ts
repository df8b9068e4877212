import type { Database, Queryable } from "../adapters/postgres.ts";
import { AppError } from "../errors/index.ts";
import { isRecord, validationFailed } from "./fields.ts";

/** Longest Idempotency-Key accepted (Stripe's limit, so clients can share one key scheme). */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;
const KEY_SHAPE = /^[\x21-\x7e]+$/;

/** A create request carrying an Idempotency-Key. */
export interface IdempotentRequest {
  key: string;
  method: string;
  path: string;
  body: unknown;
}

/** What a create produced: the response to send and the accounts whose meters must learn it. */
export interface CreateResult {
  status: number;
  body: unknown;
  affectedAccounts: string[];
}

/**
 * The response of a create, serialised once so a replay sends the same bytes. `replayed`
 * creates changed nothing now and need no propagation.
 */
export type CreateOutcome =
  | { replayed: false; status: number; bodyText: string; affectedAccounts: string[] }
  | { replayed: true; status: number; bodyText: string; affectedAccounts: [] };

/**
 * Reads the Idempotency-Key header: null when absent; VALIDATION_FAILED at
 * `/headers/idempotency-key` unless it is 1–255 visible ASCII characters.
 */
export function readIdempotencyKey(header: string | undefined): string | null {
  if (header === undefined) {
    return null;
  }
  if (header.length > MAX_IDEMPOTENCY_KEY_LENGTH || !KEY_SHAPE.test(header)) {
    throw validationFailed([
      {
        field: "/headers/idempotency-key",
        code: "INVALID_VALUE",
        detail: `1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} visible ASCII characters, e.g. a UUID`,
      },
    ]);
  }
  return header;
}

/** JSON with object keys sorted at every level, so equal bodies hash equally. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) {
    return `[${value.map(canonicalJson).join(",")}]`;
  }
  if (isRecord(value)) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}

/**
 * SHA-256 (hex) of method, path and the canonical JSON body: two requests are "the same" when
 * they parse to the same JSON, whatever their whitespace or key order.
 */
export async function requestFingerprint(request: Omit<IdempotentRequest, "key">): Promise<string> {
  const text = `${request.method.toUpperCase()} ${request.path}\n${canonicalJson(request.body)}`;
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

interface KeyRow {
  request_fingerprint: string;
  response_status: number;
  response_body: string;
}

async function claimKey(
  tx: Queryable,
  request: IdempotentRequest,
  fingerprint: string,
  nowMs: number,
): Promise<CreateOutcome | null> {
  // A placeholder response, replaced before commit: the row exists only inside this
  // transaction until the create commits, so nobody ever reads the placeholder.
  const inserted = await tx.query(
    `insert into idempotency_keys (key, request_fingerprint, method, path, response_status,
                                   response_body, created_at)
     values ($1, $2, $3, $4, 0, '', to_timestamp($5 / 1000.0))
     on conflict (key) do nothing
     returning key`,
    [request.key, fingerprint, request.method.toUpperCase(), request.path, nowMs],
  );
  if (inserted.rows.length > 0) {
    return null;
  }
  const { rows } = await tx.query<KeyRow>(
    `select request_fingerprint, response_status, response_body
       from idempotency_keys where key = $1`,
    [request.key],
  );
  const row = rows[0];
  if (!row) {
    throw new Error(`idempotency key ${request.key} conflicted but cannot be read`);
  }
  if (row.request_fingerprint !== fingerprint) {
    throw new AppError("IDEMPOTENCY_CONFLICT", "The Idempotency-Key was used for another request", {
      detail:
        "This Idempotency-Key was first sent with a different method, path or body. Use a new " +
        "key for a new request, or resend the original request unchanged.",
    });
  }
  return {
    replayed: true,
    status: row.response_status,
    bodyText: row.response_body,
    affectedAccounts: [],
  };
}

/**
 * Runs a create in one transaction. With an Idempotency-Key the key is claimed in the same
 * transaction and stores the response: a retry with the same key and request replays the
 * stored status and body (a concurrent retry waits on the key's row, then replays); the same
 * key with another request is IDEMPOTENCY_CONFLICT (409). A create that fails stores nothing,
 * so a retry runs it again. Without a key the create simply runs.
 */
export async function runCreate(
  db: Database,
  request: IdempotentRequest | null,
  nowMs: number,
  work: (tx: Queryable) => Promise<CreateResult>,
): Promise<CreateOutcome> {
  const fingerprint = request === null ? null : await requestFingerprint(request);
  return db.transaction(async (tx) => {
    if (request !== null && fingerprint !== null) {
      const replay = await claimKey(tx, request, fingerprint, nowMs);
      if (replay !== null) {
        return replay;
      }
    }
    const result = await work(tx);
    const bodyText = JSON.stringify(result.body);
    if (request !== null) {
      await tx.query(
        "update idempotency_keys set response_status = $2, response_body = $3 where key = $1",
        [request.key, result.status, bodyText],
      );
    }
    return {
      replayed: false,
      status: result.status,
      bodyText,
      affectedAccounts: result.affectedAccounts,
    };
  });
}
