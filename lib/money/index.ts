export { allocateAmount, allocateMoney, allocateUnits } from "./allocate.ts";
export {
  type Currency,
  checkCurrencyCode,
  findCurrency,
  getCurrency,
  listCurrencies,
} from "./currency.ts";
export {
  checkDecimalLimits,
  Decimal,
  type DecimalInput,
  type DecimalLimits,
  type DecimalParseFailure,
  type DecimalParseResult,
  dec,
  MAX_DECIMAL_TEXT_LENGTH,
} from "./decimal.ts";
export {
  INVOICE_LINE_ROUNDING_MODE,
  type RoundedLineAmount,
  roundInvoiceLine,
} from "./invoice-rounding.ts";
export {
  addMoney,
  formatMoney,
  fromMinorUnits,
  type MinorMoneyJson,
  type Money,
  type MoneyJson,
  minorToJson,
  money,
  moneyToJson,
  subtractMoney,
  toMinorUnits,
} from "./money.ts";
export { divideRounded, isRoundingMode, ROUNDING_MODES, type RoundingMode } from "./rounding.ts";
