import type { Redis } from "../adapters/redis.ts";
import { FREEMAIL_DOMAINS, hashIdentifier, type NormalisedEmail } from "./identity.ts";
import { REDIS_KEYS } from "./keys.ts";
import { LINK_TTL_SECONDS, PipelinePlan, WINDOWS_MS } from "./velocity.ts";

/** A signup to score. Network fields come from the caller or from Cloudflare's metadata. */
export interface SignupInput {
  /** The platform's id for the new account (it need not exist in meterline yet). */
  accountId: string;
  email: NormalisedEmail;
  ip: string | null;
  /** ISO 3166-1 alpha-2 country of the IP. */
  country: string | null;
  /** Autonomous system number of the IP's network. */
  asn: number | null;
  deviceId: string | null;
  cardFingerprint: string | null;
  /** ISO country of the card's issuer, when the platform has it. */
  cardCountry: string | null;
  /** A linked identity (e.g. a code-hosting account) and when it was created. */
  linkedIdentity: { provider: string; createdAtMs: number } | null;
}

/** Everything the signup rules look at, gathered in one Redis round trip. */
export interface SignupFacts {
  email: NormalisedEmail;
  disposableDomain: boolean;
  /** Accounts (this one included) that signed up with the same normalised email. */
  accountsWithEmail: number;
  /** Signups in each sliding window (this one included); null when the identifier is absent. */
  signupsFromIp: number | null;
  signupsFromDevice: number | null;
  signupsWithCard: number | null;
  /** Null for free mail providers, whose volume says nothing. */
  signupsFromDomain: number | null;
  /** Accounts ever linked to the card / device (180-day memory). */
  accountsWithCard: number | null;
  accountsWithDevice: number | null;
  cardFlagged: boolean;
  deviceFlagged: boolean;
  identityAgeDays: number | null;
  country: string | null;
  asn: number | null;
  cardCountry: string | null;
}

/** The hashed identifiers of a signup, as stored and used in Redis keys. */
export interface SignupHashes {
  email: string;
  ip: string | null;
  device: string | null;
  card: string | null;
  domain: string;
}

/** Hashes the signup's identifiers (lib/fraud/identity.ts). */
export async function hashSignup(input: SignupInput): Promise<SignupHashes> {
  return {
    email: await hashIdentifier("email", input.email.address),
    ip: input.ip === null ? null : await hashIdentifier("ip", input.ip),
    device: input.deviceId === null ? null : await hashIdentifier("device", input.deviceId),
    card:
      input.cardFingerprint === null ? null : await hashIdentifier("card", input.cardFingerprint),
    domain: await hashIdentifier("domain", input.email.domain),
  };
}

/**
 * Gathers the signup's facts in one Redis pipeline: the configuration mirror, disposable-domain
 * membership (the domain and its parents), the sliding-window signup counters per IP, device,
 * card and domain (this signup counted, idempotently by account id), the card/device/email link
 * sets, and the flagged card/device sets. Also returns the raw configuration mirror.
 */
export async function gatherSignupFacts(
  deps: { redis: Redis },
  input: SignupInput,
  hashes: SignupHashes,
  nowMs: number,
): Promise<{ facts: SignupFacts; mirroredConfig: unknown }> {
  const plan = new PipelinePlan(deps.redis);
  const member = input.accountId;
  plan.add("config", (p) => p.get(REDIS_KEYS.config));
  const domains = [input.email.domain, ...input.email.parentDomains];
  plan.add("disposable", (p) =>
    p.smismember(REDIS_KEYS.disposableDomains, domains as [string, ...string[]]),
  );
  const link = (label: string, kind: "card" | "device" | "email", hash: string) => {
    const key = REDIS_KEYS.link(kind, hash);
    plan.add(null, (p) => p.sadd(key, member));
    plan.add(label, (p) => p.scard(key));
    plan.add(null, (p) => p.expire(key, LINK_TTL_SECONDS));
  };
  link("emailAccounts", "email", hashes.email);
  if (hashes.ip !== null) {
    plan.count("ip", {
      counter: "signup:ip",
      subject: hashes.ip,
      member,
      atMs: nowMs,
      windowMs: WINDOWS_MS.signupsPerIp,
    });
  }
  if (hashes.device !== null) {
    plan.count("device", {
      counter: "signup:device",
      subject: hashes.device,
      member,
      atMs: nowMs,
      windowMs: WINDOWS_MS.signupsPerDevice,
    });
    link("deviceAccounts", "device", hashes.device);
    plan.add("deviceFlagged", (p) => p.sismember(REDIS_KEYS.flagged("device"), hashes.device));
  }
  if (hashes.card !== null) {
    plan.count("card", {
      counter: "signup:card",
      subject: hashes.card,
      member,
      atMs: nowMs,
      windowMs: WINDOWS_MS.signupsPerCard,
    });
    link("cardAccounts", "card", hashes.card);
    plan.add("cardFlagged", (p) => p.sismember(REDIS_KEYS.flagged("card"), hashes.card));
  }
  const freemail = FREEMAIL_DOMAINS.has(input.email.domain);
  if (!freemail) {
    plan.count("domain", {
      counter: "signup:domain",
      subject: hashes.domain,
      member,
      atMs: nowMs,
      windowMs: WINDOWS_MS.signupsPerDomain,
    });
  }
  const results = await plan.exec();
  const disposable = results.get("disposable");
  const ageMs = input.linkedIdentity ? nowMs - input.linkedIdentity.createdAtMs : null;
  const facts: SignupFacts = {
    email: input.email,
    disposableDomain: Array.isArray(disposable) && disposable.some((v) => v === 1),
    accountsWithEmail: results.number("emailAccounts"),
    signupsFromIp: hashes.ip === null ? null : results.number("ip"),
    signupsFromDevice: hashes.device === null ? null : results.number("device"),
    signupsWithCard: hashes.card === null ? null : results.number("card"),
    signupsFromDomain: freemail ? null : results.number("domain"),
    accountsWithCard: hashes.card === null ? null : results.number("cardAccounts"),
    accountsWithDevice: hashes.device === null ? null : results.number("deviceAccounts"),
    cardFlagged: results.flag("cardFlagged"),
    deviceFlagged: results.flag("deviceFlagged"),
    identityAgeDays: ageMs === null ? null : Math.max(0, Math.floor(ageMs / 86_400_000)),
    country: input.country,
    asn: input.asn,
    cardCountry: input.cardCountry,
  };
  return { facts, mirroredConfig: results.get("config") };
}
