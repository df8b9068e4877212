/**
 * Identifiers a signup presents (email, IP, device, card fingerprint), normalised and hashed so
 * Redis keys, Postgres rows and logs never hold the raw values.
 */

/** Providers that ignore dots in the local part (Gmail and its old alias). */
const DOT_BLIND_DOMAINS = new Set(["gmail.com", "googlemail.com"]);
/** Domains that are aliases of another provider's mailboxes. */
const DOMAIN_ALIASES: Record<string, string> = { "googlemail.com": "gmail.com" };
/**
 * Large free mail providers. Signups per email domain are only counted for other domains: a
 * thousand Gmail signups an hour is normal, a thousand from one unknown domain is not.
 */
export const FREEMAIL_DOMAINS: ReadonlySet<string> = new Set([
  "gmail.com",
  "yahoo.com",
  "outlook.com",
  "hotmail.com",
  "live.com",
  "msn.com",
  "icloud.com",
  "me.com",
  "aol.com",
  "proton.me",
  "protonmail.com",
  "gmx.com",
  "gmx.de",
  "mail.com",
  "yandex.ru",
  "qq.com",
  "163.com",
  "zoho.com",
  "fastmail.com",
]);

/** An email address reduced to the mailbox it delivers to. */
export interface NormalisedEmail {
  /** `local@domain`, lower case, sub-address and ignored dots removed. */
  address: string;
  domain: string;
  /** The registrable parents of the domain, nearest first (`a.b.c` → `b.c`), for list checks. */
  parentDomains: string[];
}

/**
 * Normalises an email address: lower case (providers treat local parts case-insensitively in
 * practice), the `+tag` sub-address removed (every major provider delivers it to the same
 * mailbox), dots removed where the provider ignores them, known domain aliases folded.
 * Returns null for text that is not shaped like `local@domain.tld`.
 */
export function normaliseEmail(raw: string): NormalisedEmail | null {
  const text = raw.trim().toLowerCase();
  const at = text.lastIndexOf("@");
  if (at <= 0 || at === text.length - 1) {
    return null;
  }
  let local = text.slice(0, at);
  let domain = text.slice(at + 1).replace(/\.$/, "");
  if (!/^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(domain) || /\s/.test(local)) {
    return null;
  }
  domain = DOMAIN_ALIASES[domain] ?? domain;
  const plus = local.indexOf("+");
  if (plus >= 0) {
    local = local.slice(0, plus);
  }
  if (DOT_BLIND_DOMAINS.has(domain)) {
    local = local.replaceAll(".", "");
  }
  if (local === "") {
    return null;
  }
  const labels = domain.split(".");
  const parentDomains: string[] = [];
  for (let i = 1; i < labels.length - 1; i += 1) {
    parentDomains.push(labels.slice(i).join("."));
  }
  return { address: `${local}@${domain}`, domain, parentDomains };
}

/** The kinds of identifier that are hashed. */
export type IdentifierKind = "email" | "ip" | "device" | "card" | "domain";

/**
 * Hashes an identifier for storage: hex SHA-256 of `kind:value`, first 32 characters (128 bits,
 * ample against collisions). Not a secret-keyed hash: it keeps raw values out of keys and logs,
 * but a low-entropy value (an IP) can be recovered by brute force; see docs/fraud.md.
 */
export async function hashIdentifier(kind: IdentifierKind, value: string): Promise<string> {
  const bytes = new TextEncoder().encode(`${kind}:${value}`);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  let hex = "";
  for (let i = 0; i < 16; i += 1) {
    hex += (digest[i] as number).toString(16).padStart(2, "0");
  }
  return hex;
}
