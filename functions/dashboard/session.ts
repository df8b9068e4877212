/**
 * Dashboard sessions: after an admin signs in with the admin key, the browser holds a signed
 * token (in an HttpOnly, SameSite=Strict cookie) instead of the key. The token says only when it
 * expires; it is signed with HMAC-SHA-256 under a key derived (HKDF) from the admin key, so
 * rotating the admin key ends every session, and nothing server-side needs storing.
 */

/** How long a session lasts after sign-in. */
export const SESSION_TTL_SECONDS = 8 * 60 * 60;

const TOKEN_VERSION = "v1";
const encoder = new TextEncoder();

function base64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) {
    binary += String.fromCharCode(byte);
  }
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function fromBase64Url(text: string): Uint8Array<ArrayBuffer> | null {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) {
    return null;
  }
  let binary: string;
  try {
    binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
  } catch {
    return null;
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) {
    bytes[i] = binary.charCodeAt(i);
  }
  return bytes;
}

/** The HMAC key for session tokens, derived from the admin key (never the key itself). */
async function sessionKey(adminKey: string): Promise<CryptoKey> {
  const material = await crypto.subtle.importKey("raw", encoder.encode(adminKey), "HKDF", false, [
    "deriveKey",
  ]);
  return crypto.subtle.deriveKey(
    {
      name: "HKDF",
      hash: "SHA-256",
      salt: encoder.encode("meterline dashboard session"),
      info: encoder.encode(TOKEN_VERSION),
    },
    material,
    { name: "HMAC", hash: "SHA-256", length: 256 },
    false,
    ["sign", "verify"],
  );
}

/**
 * A new session token, valid for SESSION_TTL_SECONDS from `nowMs`:
 * `v1.<expiry, epoch seconds>.<random nonce>.<signature>`, all URL-safe.
 */
export async function issueSession(adminKey: string, nowMs: number): Promise<string> {
  const expires = Math.floor(nowMs / 1000) + SESSION_TTL_SECONDS;
  const nonce = base64Url(crypto.getRandomValues(new Uint8Array(16)));
  const payload = `${TOKEN_VERSION}.${expires}.${nonce}`;
  const signature = await crypto.subtle.sign(
    "HMAC",
    await sessionKey(adminKey),
    encoder.encode(payload),
  );
  return `${payload}.${base64Url(new Uint8Array(signature))}`;
}

/**
 * True when `token` was issued under this admin key and has not expired at `nowMs`. The
 * signature is checked in constant time (WebCrypto's verify); malformed tokens are false.
 */
export async function verifySession(
  adminKey: string,
  token: string,
  nowMs: number,
): Promise<boolean> {
  const parts = token.split(".");
  if (parts.length !== 4 || parts[0] !== TOKEN_VERSION) {
    return false;
  }
  const [version, expiresText, nonce, signatureText] = parts as [string, string, string, string];
  const signature = fromBase64Url(signatureText);
  if (!/^\d{1,12}$/.test(expiresText) || signature === null) {
    return false;
  }
  const valid = await crypto.subtle.verify(
    "HMAC",
    await sessionKey(adminKey),
    signature,
    encoder.encode(`${version}.${expiresText}.${nonce}`),
  );
  return valid && Number(expiresText) * 1000 > nowMs;
}

/**
 * The session cookie's name: with the `__Host-` prefix over https (the browser then insists on
 * Secure, Path=/ and no Domain), plain over http (local development).
 */
export function sessionCookieName(secure: boolean): string {
  return secure ? "__Host-meterline_session" : "meterline_session";
}
