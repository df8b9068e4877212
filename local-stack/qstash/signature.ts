/**
 * The `Upstash-Signature` QStash puts on every delivery: an HS256 JWT over the destination URL
 * and the SHA-256 of the exact body sent, signed with the account's signing key. `Receiver` from
 * `@upstash/qstash` verifies it with `jose.jwtVerify`, so this must be a standard compact JWT.
 */
import { createHash, createHmac, randomBytes } from "node:crypto";

/** QStash's tokens are valid for five minutes. */
export const SIGNATURE_LIFETIME_SECONDS = 300;

function base64url(bytes: Uint8Array | string): string {
  return Buffer.from(bytes).toString("base64url");
}

/** base64url(SHA-256(body)) with `=` padding, as QStash writes the `body` claim. */
export function bodyHash(body: Uint8Array): string {
  const digest = createHash("sha256").update(body).digest("base64url");
  return digest.padEnd(Math.ceil(digest.length / 4) * 4, "=");
}

export interface SignatureInput {
  /** The destination URL exactly as delivered; the Receiver compares it with `sub`. */
  url: string;
  body: Uint8Array;
  signingKey: string;
  /**
   * Wall-clock time, not the sandbox clock: the Receiver checks `nbf`/`exp` against the real
   * time of the process verifying, so a moved sandbox clock must not make tokens look stale.
   */
  nowMs: number;
}

/** Returns a compact HS256 JWT with claims iss, sub, body, iat, nbf, exp and a random jti. */
export function signDelivery(input: SignatureInput): string {
  const issuedAt = Math.floor(input.nowMs / 1000);
  const header = { alg: "HS256", typ: "JWT" };
  const claims = {
    iss: "Upstash",
    sub: input.url,
    exp: issuedAt + SIGNATURE_LIFETIME_SECONDS,
    nbf: issuedAt,
    iat: issuedAt,
    jti: `jwt_${randomBytes(12).toString("hex")}`,
    body: bodyHash(input.body),
  };
  const unsigned = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  const mac = createHmac("sha256", new TextEncoder().encode(input.signingKey))
    .update(unsigned)
    .digest("base64url");
  return `${unsigned}.${mac}`;
}
