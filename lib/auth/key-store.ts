import type { Queryable } from "../adapters/postgres.ts";
import { AppError } from "../errors/index.ts";

/** A key as listed to admins: never the secret, only its prefix. */
export interface ApiKeyInfo {
  id: string;
  accountId: string;
  name: string;
  prefix: string;
  createdAt: string;
  revokedAt: string | null;
}

interface KeyRow {
  id: string;
  account_id: string;
  name: string;
  prefix: string;
  created_at: Date;
  revoked_at: Date | null;
}

function toInfo(row: KeyRow): ApiKeyInfo {
  return {
    id: row.id,
    accountId: row.account_id,
    name: row.name,
    prefix: row.prefix,
    createdAt: row.created_at.toISOString(),
    revokedAt: row.revoked_at ? row.revoked_at.toISOString() : null,
  };
}

/** Fails with NOT_FOUND unless the account exists. */
export async function assertAccountExists(db: Queryable, accountId: string): Promise<void> {
  const { rows } = await db.query("select 1 from accounts where id = $1", [accountId]);
  if (rows.length === 0) {
    throw new AppError("NOT_FOUND", `No account ${accountId}`, {
      detail: "Create the account first.",
    });
  }
}

/** Records a key's hash (idempotent by key id). */
export async function recordApiKey(
  db: Queryable,
  key: {
    id: string;
    accountId: string;
    name: string;
    prefix: string;
    hash: string;
    createdAtMs: number;
  },
): Promise<ApiKeyInfo> {
  const { rows } = await db.query<KeyRow>(
    `insert into api_keys (id, account_id, name, prefix, hash, created_at)
     values ($1, $2, $3, $4, $5, to_timestamp($6 / 1000.0))
     on conflict (id) do update set name = api_keys.name
     returning id, account_id, name, prefix, created_at, revoked_at`,
    [key.id, key.accountId, key.name, key.prefix, key.hash, key.createdAtMs],
  );
  return toInfo(rows[0] as KeyRow);
}

/** Lists an account's keys, newest first. */
export async function listApiKeys(db: Queryable, accountId: string): Promise<ApiKeyInfo[]> {
  const { rows } = await db.query<KeyRow>(
    `select id, account_id, name, prefix, created_at, revoked_at
       from api_keys where account_id = $1 order by created_at desc, id desc`,
    [accountId],
  );
  return rows.map(toInfo);
}

/** Marks a key revoked (idempotent); NOT_FOUND when the account has no such key. */
export async function markApiKeyRevoked(
  db: Queryable,
  accountId: string,
  keyId: string,
  atMs: number,
): Promise<ApiKeyInfo> {
  const { rows } = await db.query<KeyRow>(
    `update api_keys set revoked_at = coalesce(revoked_at, to_timestamp($3 / 1000.0))
      where account_id = $1 and id = $2
      returning id, account_id, name, prefix, created_at, revoked_at`,
    [accountId, keyId, atMs],
  );
  const row = rows[0];
  if (!row) {
    throw new AppError("NOT_FOUND", `No key ${keyId}`, {
      detail: "The account has no key with this id.",
    });
  }
  return toInfo(row);
}
