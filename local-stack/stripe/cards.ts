/**
 * Test cards: what each number does when charged, Stripe's `pm_card_*` / `tok_*` shortcuts,
 * brand detection, the Luhn check and a deterministic fingerprint per number.
 */
import { stableToken } from "./ids.ts";

export type CardBehaviour =
  | { kind: "succeed" }
  | {
      kind: "decline";
      code: string;
      declineCode: string;
      message: string;
      /** Stripe checks the card when it is attached to a customer; most declines fail there. */
      failsOnAttach: boolean;
    }
  | { kind: "processing"; settlesAs: "succeeded" | "failed" }
  | { kind: "dispute" }
  | { kind: "early_fraud_warning" };

export interface TestCard {
  number: string;
  brand: string;
  funding: "credit" | "debit";
  behaviour: CardBehaviour;
}

const SUCCEED: CardBehaviour = { kind: "succeed" };
const DECLINED = "Your card was declined.";

function decline(
  code: string,
  declineCode: string,
  message: string,
  failsOnAttach = true,
): CardBehaviour {
  return { kind: "decline", code, declineCode, message, failsOnAttach };
}

/** Numbers with a documented behaviour, keyed by number, with their shortcut names. */
const KNOWN: { card: TestCard; shortcut: string }[] = [
  { shortcut: "visa", card: card("4242424242424242", "visa", "credit", SUCCEED) },
  { shortcut: "visa_debit", card: card("4000056655665556", "visa", "debit", SUCCEED) },
  { shortcut: "mastercard", card: card("5555555555554444", "mastercard", "credit", SUCCEED) },
  { shortcut: "amex", card: card("378282246310005", "amex", "credit", SUCCEED) },
  { shortcut: "discover", card: card("6011111111111117", "discover", "credit", SUCCEED) },
  {
    shortcut: "chargeDeclined",
    card: card(
      "4000000000000002",
      "visa",
      "credit",
      decline("card_declined", "generic_decline", DECLINED),
    ),
  },
  {
    shortcut: "chargeDeclinedInsufficientFunds",
    card: card(
      "4000000000009995",
      "visa",
      "credit",
      decline("card_declined", "insufficient_funds", "Your card has insufficient funds."),
    ),
  },
  {
    shortcut: "chargeDeclinedLostCard",
    card: card(
      "4000000000009987",
      "visa",
      "credit",
      decline("card_declined", "lost_card", DECLINED),
    ),
  },
  {
    shortcut: "chargeDeclinedStolenCard",
    card: card(
      "4000000000009979",
      "visa",
      "credit",
      decline("card_declined", "stolen_card", DECLINED),
    ),
  },
  {
    shortcut: "chargeDeclinedExpiredCard",
    card: card(
      "4000000000000069",
      "visa",
      "credit",
      decline("expired_card", "expired_card", "Your card has expired."),
    ),
  },
  {
    shortcut: "chargeDeclinedIncorrectCvc",
    card: card(
      "4000000000000127",
      "visa",
      "credit",
      decline("incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect."),
    ),
  },
  {
    shortcut: "chargeDeclinedProcessingError",
    card: card(
      "4000000000000119",
      "visa",
      "credit",
      decline(
        "processing_error",
        "processing_error",
        "An error occurred while processing your card. Try again in a little bit.",
      ),
    ),
  },
  {
    shortcut: "chargeCustomerFail",
    card: card(
      "4000000000000341",
      "visa",
      "credit",
      decline("card_declined", "generic_decline", DECLINED, false),
    ),
  },
  {
    shortcut: "createDispute",
    card: card("4000000000000259", "visa", "credit", { kind: "dispute" }),
  },
  {
    shortcut: "createEarlyFraudWarning",
    card: card("4000000000005423", "visa", "credit", { kind: "early_fraud_warning" }),
  },
  // Card payments settle synchronously at Stripe; these two sandbox-only numbers model a
  // payment that stays `processing` until the sandbox clock moves it on.
  {
    shortcut: "sandboxProcessingSucceeds",
    card: card("4000009990000104", "visa", "credit", {
      kind: "processing",
      settlesAs: "succeeded",
    }),
  },
  {
    shortcut: "sandboxProcessingFails",
    card: card("4000009990000203", "visa", "credit", { kind: "processing", settlesAs: "failed" }),
  },
];

function card(
  number: string,
  brand: string,
  funding: "credit" | "debit",
  behaviour: CardBehaviour,
): TestCard {
  return { number, brand, funding, behaviour };
}

const BY_NUMBER = new Map(KNOWN.map((entry) => [entry.card.number, entry.card]));
const BY_SHORTCUT = new Map(KNOWN.map((entry) => [entry.shortcut, entry.card.number]));

/** The card number behind `pm_card_<name>` or `tok_<name>`, or undefined for other ids. */
export function shortcutNumber(id: string): string | undefined {
  const match = /^(?:pm_card_|tok_)(\w+)$/.exec(id);
  return match ? BY_SHORTCUT.get(match[1] as string) : undefined;
}

/** True for `pm_card_*` shortcuts, which Stripe turns into a new PaymentMethod on use. */
export function isPaymentMethodShortcut(id: string): boolean {
  return id.startsWith("pm_card_");
}

/** True for 12–19 digits passing the Luhn check (what card networks require). */
export function luhnValid(number: string): boolean {
  if (!/^\d{12,19}$/.test(number)) {
    return false;
  }
  let sum = 0;
  let double = false;
  for (let i = number.length - 1; i >= 0; i -= 1) {
    let digit = Number(number[i]);
    if (double) {
      digit *= 2;
      if (digit > 9) {
        digit -= 9;
      }
    }
    sum += digit;
    double = !double;
  }
  return sum % 10 === 0;
}

function brandOf(number: string): string {
  const two = Number(number.slice(0, 2));
  const four = Number(number.slice(0, 4));
  if (number.startsWith("4")) {
    return "visa";
  }
  if ((two >= 51 && two <= 55) || (four >= 2221 && four <= 2720)) {
    return "mastercard";
  }
  if (two === 34 || two === 37) {
    return "amex";
  }
  if (number.startsWith("6011") || two === 65) {
    return "discover";
  }
  if (two === 35) {
    return "jcb";
  }
  if (two === 36 || two === 38 || (two === 30 && Number(number[2]) <= 5)) {
    return "diners";
  }
  if (two === 62) {
    return "unionpay";
  }
  return "unknown";
}

/** The behaviour of a (Luhn-valid) number; numbers not in the table succeed. */
export function testCard(number: string): TestCard {
  return BY_NUMBER.get(number) ?? card(number, brandOf(number), "credit", SUCCEED);
}

/** Stripe's per-card fingerprint: the same number always gives the same 16 characters. */
export function fingerprint(number: string): string {
  return stableToken("card-fingerprint", number);
}
