import { Decimal } from "../money/decimal.ts";

/**
 * What the invoice adds so that a meter's period amount reaches its `minimumCharge`
 * (commitment): `max(minimumCharge − ratedTotal, 0)`, zero when there is no minimum.
 *
 * Deliberately not part of real-time rating: whether a commitment is met is only known when the
 * period closes, so marginal amounts never include it and the invoice shows it as its own line.
 * Both inputs are full precision; the result is rounded with the other lines.
 */
export function commitmentTopUp(ratedTotal: Decimal, minimumCharge: Decimal | null): Decimal {
  if (minimumCharge === null) {
    return Decimal.ZERO;
  }
  const shortfall = minimumCharge.sub(ratedTotal);
  return shortfall.isPositive() ? shortfall : Decimal.ZERO;
}
