import type { RiskConfig } from "./config.ts";
import type { RiskLevel } from "./levels.ts";
import { type Decision, type Firing, type Verdict, verdictOf } from "./rules.ts";
import type { SignupFacts } from "./signup-facts.ts";

/**
 * Applies the signup rules to gathered facts. Pure: the same facts and configuration always
 * give the same verdict, which is what makes decisions explainable and replayable.
 */
export function evaluateSignup(facts: SignupFacts, config: RiskConfig): Verdict {
  const rules = config.signup.rules;
  const firings: Firing[] = [];
  const atLeast = (
    rule: keyof typeof rules,
    value: number | null,
    threshold: number,
    what: string,
  ) => {
    if (value !== null && value >= threshold) {
      firings.push({
        rule,
        weight: rules[rule].weight,
        detail: `${value} ${what} (threshold ${threshold})`,
      });
    }
  };
  if (facts.disposableDomain) {
    firings.push({
      rule: "disposable_email",
      weight: rules.disposable_email.weight,
      detail: `${facts.email.domain} is a disposable email domain`,
    });
  }
  atLeast(
    "email_reused",
    facts.accountsWithEmail,
    rules.email_reused.threshold,
    "accounts with this normalised email",
  );
  atLeast(
    "ip_velocity",
    facts.signupsFromIp,
    rules.ip_velocity.threshold,
    "signups from this IP in 1 h",
  );
  atLeast(
    "device_velocity",
    facts.signupsFromDevice,
    rules.device_velocity.threshold,
    "signups from this device in 24 h",
  );
  atLeast(
    "card_velocity",
    facts.signupsWithCard,
    rules.card_velocity.threshold,
    "signups with this card in 24 h",
  );
  atLeast(
    "domain_velocity",
    facts.signupsFromDomain,
    rules.domain_velocity.threshold,
    `signups from ${facts.email.domain} in 1 h`,
  );
  atLeast(
    "card_shared",
    facts.accountsWithCard,
    rules.card_shared.threshold,
    "accounts share this card",
  );
  atLeast(
    "device_shared",
    facts.accountsWithDevice,
    rules.device_shared.threshold,
    "accounts share this device",
  );
  atLeast(
    "card_farm",
    facts.accountsWithCard,
    rules.card_farm.threshold,
    "accounts share this card",
  );
  atLeast(
    "device_farm",
    facts.accountsWithDevice,
    rules.device_farm.threshold,
    "accounts share this device",
  );
  if (facts.cardFlagged) {
    firings.push({
      rule: "flagged_card",
      weight: rules.flagged_card.weight,
      detail: "the card is tied to fraud on another account",
    });
  }
  if (facts.deviceFlagged) {
    firings.push({
      rule: "flagged_device",
      weight: rules.flagged_device.weight,
      detail: "the device is tied to a suspended account",
    });
  }
  if (facts.identityAgeDays !== null && facts.identityAgeDays < rules.young_identity.threshold) {
    firings.push({
      rule: "young_identity",
      weight: rules.young_identity.weight,
      detail: `linked identity is ${facts.identityAgeDays} days old (threshold ${rules.young_identity.threshold})`,
    });
  }
  if (facts.asn !== null && config.lists.hostingAsns.includes(facts.asn)) {
    firings.push({
      rule: "hosting_network",
      weight: rules.hosting_network.weight,
      detail: `AS${facts.asn} is a hosting network`,
    });
  }
  if (facts.country !== null && config.lists.highRiskCountries.includes(facts.country)) {
    firings.push({
      rule: "high_risk_country",
      weight: rules.high_risk_country.weight,
      detail: `IP country ${facts.country} is on the high-risk list`,
    });
  }
  if (facts.country !== null && facts.cardCountry !== null && facts.country !== facts.cardCountry) {
    firings.push({
      rule: "country_mismatch",
      weight: rules.country_mismatch.weight,
      detail: `IP country ${facts.country} differs from card country ${facts.cardCountry}`,
    });
  }
  return verdictOf(firings, [], config.signup.decisions);
}

/** The level a new account starts at after its signup decision. */
export function initialLevelFor(decision: Decision): RiskLevel {
  switch (decision) {
    case "allow":
      return "normal";
    case "challenge":
      return "watch";
    case "review":
      return "limited";
    case "deny":
      return "suspended";
  }
}
