/**
 * Account API keys: `mlk_<base64url(account id)>.<32 random base32 chars>`. The account id is
 * inside the key so a request can be routed to its account meter, which holds the key hashes
 * and verifies them (revocation takes effect on the next request). Only SHA-256 hashes are
 * stored; the key itself is shown once, at creation.
 */
const KEY_PREFIX = "mlk_";
const SECRET_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";
const SECRET_LENGTH = 32;

function base64UrlEncode(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const byte of bytes) {
    binary += String.fromCharCode(byte);
  }
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function base64UrlDecode(text: string): string | null {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) {
    return null;
  }
  try {
    const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return null;
  }
}

/** A freshly minted key: `secret` is the full key, to be shown once and never stored. */
export interface MintedKey {
  secret: string;
  /** The first characters of the key, safe to display and log. */
  prefix: string;
  hash: string;
}

/** SHA-256 of the key, hex: what meterline stores and compares. */
export async function hashApiKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Mints a key for `accountId` with 160 bits of randomness. */
export async function mintApiKey(accountId: string): Promise<MintedKey> {
  const random = new Uint8Array(SECRET_LENGTH);
  crypto.getRandomValues(random);
  let secretPart = "";
  for (const byte of random) {
    secretPart += SECRET_ALPHABET[byte % 32];
  }
  const secret = `${KEY_PREFIX}${base64UrlEncode(accountId)}.${secretPart}`;
  return {
    secret,
    prefix: `${secret.slice(0, secret.indexOf(".") + 5)}…`,
    hash: await hashApiKey(secret),
  };
}

/** The account a key claims to belong to, or null when it is not shaped like an account key. */
export function accountOfKey(key: string): string | null {
  if (!key.startsWith(KEY_PREFIX)) {
    return null;
  }
  const dot = key.lastIndexOf(".");
  if (dot <= KEY_PREFIX.length || key.length - dot - 1 !== SECRET_LENGTH) {
    return null;
  }
  return base64UrlDecode(key.slice(KEY_PREFIX.length, dot));
}

/** Compares two strings in time independent of where they differ (for the admin key). */
export function timingSafeEqualText(a: string, b: string): boolean {
  const left = new TextEncoder().encode(a);
  const right = new TextEncoder().encode(b);
  let diff = left.length ^ right.length;
  const length = Math.max(left.length, right.length);
  for (let i = 0; i < length; i += 1) {
    diff |= (left[i] ?? 0) ^ (right[i] ?? 0);
  }
  return diff === 0;
}
