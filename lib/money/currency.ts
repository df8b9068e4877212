import { AppError, type FieldError } from "../errors/app-error.ts";

/** An ISO 4217 currency and the number of digits of its minor unit. */
export interface Currency {
  /** Alphabetic ISO 4217 code, upper case: `USD`. */
  readonly code: string;
  /** Digits after the point in the minor unit: JPY 0, USD 2, KWD 3, CLF 4. */
  readonly exponent: number;
  readonly name: string;
}

// ISO 4217 List One as amended through 2026: every code with a minor unit, i.e. without the
// precious metals, the bond-market and SDR units, the test code and "no currency" (their minor
// unit is "N.A.", they are not billable). Funds codes (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI, UYW)
// are included because they have a defined minor unit. [exponent, ISO name]
const TABLE: Readonly<Record<string, readonly [number, string]>> = {
  AED: [2, "UAE Dirham"],
  AFN: [2, "Afghani"],
  ALL: [2, "Lek"],
  AMD: [2, "Armenian Dram"],
  AOA: [2, "Kwanza"],
  ARS: [2, "Argentine Peso"],
  AUD: [2, "Australian Dollar"],
  AWG: [2, "Aruban Florin"],
  AZN: [2, "Azerbaijan Manat"],
  BAM: [2, "Convertible Mark"],
  BBD: [2, "Barbados Dollar"],
  BDT: [2, "Taka"],
  BHD: [3, "Bahraini Dinar"],
  BIF: [0, "Burundi Franc"],
  BMD: [2, "Bermudian Dollar"],
  BND: [2, "Brunei Dollar"],
  BOB: [2, "Boliviano"],
  BOV: [2, "Mvdol"],
  BRL: [2, "Brazilian Real"],
  BSD: [2, "Bahamian Dollar"],
  BTN: [2, "Ngultrum"],
  BWP: [2, "Pula"],
  BYN: [2, "Belarusian Ruble"],
  BZD: [2, "Belize Dollar"],
  CAD: [2, "Canadian Dollar"],
  CDF: [2, "Congolese Franc"],
  CHE: [2, "WIR Euro"],
  CHF: [2, "Swiss Franc"],
  CHW: [2, "WIR Franc"],
  CLF: [4, "Unidad de Fomento"],
  CLP: [0, "Chilean Peso"],
  CNY: [2, "Yuan Renminbi"],
  COP: [2, "Colombian Peso"],
  COU: [2, "Unidad de Valor Real"],
  CRC: [2, "Costa Rican Colon"],
  CUC: [2, "Peso Convertible"],
  CUP: [2, "Cuban Peso"],
  CVE: [2, "Cabo Verde Escudo"],
  CZK: [2, "Czech Koruna"],
  DJF: [0, "Djibouti Franc"],
  DKK: [2, "Danish Krone"],
  DOP: [2, "Dominican Peso"],
  DZD: [2, "Algerian Dinar"],
  EGP: [2, "Egyptian Pound"],
  ERN: [2, "Nakfa"],
  ETB: [2, "Ethiopian Birr"],
  EUR: [2, "Euro"],
  FJD: [2, "Fiji Dollar"],
  FKP: [2, "Falkland Islands Pound"],
  GBP: [2, "Pound Sterling"],
  GEL: [2, "Lari"],
  GHS: [2, "Ghana Cedi"],
  GIP: [2, "Gibraltar Pound"],
  GMD: [2, "Dalasi"],
  GNF: [0, "Guinean Franc"],
  GTQ: [2, "Quetzal"],
  GYD: [2, "Guyana Dollar"],
  HKD: [2, "Hong Kong Dollar"],
  HNL: [2, "Lempira"],
  HTG: [2, "Gourde"],
  HUF: [2, "Forint"],
  IDR: [2, "Rupiah"],
  ILS: [2, "New Israeli Sheqel"],
  INR: [2, "Indian Rupee"],
  IQD: [3, "Iraqi Dinar"],
  IRR: [2, "Iranian Rial"],
  ISK: [0, "Iceland Krona"],
  JMD: [2, "Jamaican Dollar"],
  JOD: [3, "Jordanian Dinar"],
  JPY: [0, "Yen"],
  KES: [2, "Kenyan Shilling"],
  KGS: [2, "Som"],
  KHR: [2, "Riel"],
  KMF: [0, "Comorian Franc"],
  KPW: [2, "North Korean Won"],
  KRW: [0, "Won"],
  KWD: [3, "Kuwaiti Dinar"],
  KYD: [2, "Cayman Islands Dollar"],
  KZT: [2, "Tenge"],
  LAK: [2, "Lao Kip"],
  LBP: [2, "Lebanese Pound"],
  LKR: [2, "Sri Lanka Rupee"],
  LRD: [2, "Liberian Dollar"],
  LSL: [2, "Loti"],
  LYD: [3, "Libyan Dinar"],
  MAD: [2, "Moroccan Dirham"],
  MDL: [2, "Moldovan Leu"],
  MGA: [2, "Malagasy Ariary"],
  MKD: [2, "Denar"],
  MMK: [2, "Kyat"],
  MNT: [2, "Tugrik"],
  MOP: [2, "Pataca"],
  MRU: [2, "Ouguiya"],
  MUR: [2, "Mauritius Rupee"],
  MVR: [2, "Rufiyaa"],
  MWK: [2, "Malawi Kwacha"],
  MXN: [2, "Mexican Peso"],
  MXV: [2, "Mexican Unidad de Inversion (UDI)"],
  MYR: [2, "Malaysian Ringgit"],
  MZN: [2, "Mozambique Metical"],
  NAD: [2, "Namibia Dollar"],
  NGN: [2, "Naira"],
  NIO: [2, "Cordoba Oro"],
  NOK: [2, "Norwegian Krone"],
  NPR: [2, "Nepalese Rupee"],
  NZD: [2, "New Zealand Dollar"],
  OMR: [3, "Rial Omani"],
  PAB: [2, "Balboa"],
  PEN: [2, "Sol"],
  PGK: [2, "Kina"],
  PHP: [2, "Philippine Peso"],
  PKR: [2, "Pakistan Rupee"],
  PLN: [2, "Zloty"],
  PYG: [0, "Guarani"],
  QAR: [2, "Qatari Rial"],
  RON: [2, "Romanian Leu"],
  RSD: [2, "Serbian Dinar"],
  RUB: [2, "Russian Ruble"],
  RWF: [0, "Rwanda Franc"],
  SAR: [2, "Saudi Riyal"],
  SBD: [2, "Solomon Islands Dollar"],
  SCR: [2, "Seychelles Rupee"],
  SDG: [2, "Sudanese Pound"],
  SEK: [2, "Swedish Krona"],
  SGD: [2, "Singapore Dollar"],
  SHP: [2, "Saint Helena Pound"],
  SLE: [2, "Leone"],
  SOS: [2, "Somali Shilling"],
  SRD: [2, "Surinam Dollar"],
  SSP: [2, "South Sudanese Pound"],
  STN: [2, "Dobra"],
  SVC: [2, "El Salvador Colon"],
  SYP: [2, "Syrian Pound"],
  SZL: [2, "Lilangeni"],
  THB: [2, "Baht"],
  TJS: [2, "Somoni"],
  TMT: [2, "Turkmenistan New Manat"],
  TND: [3, "Tunisian Dinar"],
  TOP: [2, "Pa’anga"],
  TRY: [2, "Turkish Lira"],
  TTD: [2, "Trinidad and Tobago Dollar"],
  TWD: [2, "New Taiwan Dollar"],
  TZS: [2, "Tanzanian Shilling"],
  UAH: [2, "Hryvnia"],
  UGX: [0, "Uganda Shilling"],
  USD: [2, "US Dollar"],
  USN: [2, "US Dollar (Next day)"],
  UYI: [0, "Uruguay Peso en Unidades Indexadas (UI)"],
  UYU: [2, "Peso Uruguayo"],
  UYW: [4, "Unidad Previsional"],
  UZS: [2, "Uzbekistan Sum"],
  VED: [2, "Bolívar Soberano"],
  VES: [2, "Bolívar Soberano"],
  VND: [0, "Dong"],
  VUV: [0, "Vatu"],
  WST: [2, "Tala"],
  XAF: [0, "CFA Franc BEAC"],
  XCD: [2, "East Caribbean Dollar"],
  XCG: [2, "Caribbean Guilder"],
  XOF: [0, "CFA Franc BCEAO"],
  XPF: [0, "CFP Franc"],
  YER: [2, "Yemeni Rial"],
  ZAR: [2, "Rand"],
  ZMW: [2, "Zambian Kwacha"],
  ZWG: [2, "Zimbabwe Gold"],
};

// Codes removed from List One recently enough that stored plans may still name them; a lookup
// says what replaced them instead of only "unknown".
const WITHDRAWN: Readonly<Record<string, string>> = {
  ANG: "XCG",
  BGN: "EUR",
  HRK: "EUR",
  SLL: "SLE",
  ZWL: "ZWG",
};

const CODE_SHAPE = /^[A-Z]{3}$/;

const CURRENCIES: ReadonlyMap<string, Currency> = new Map(
  Object.entries(TABLE).map(([code, [exponent, name]]) => [code, { code, exponent, name }]),
);

/** Every active currency, ordered by code. */
export function listCurrencies(): Currency[] {
  return [...CURRENCIES.values()];
}

/** The currency with alphabetic code `code` (exact, upper case), or undefined. */
export function findCurrency(code: string): Currency | undefined {
  return CURRENCIES.get(code);
}

/**
 * Why `code` is not an active currency, as a field error at `field`, or null when it is one.
 * Lower-case codes are rejected rather than folded, so stored data has one spelling.
 */
export function checkCurrencyCode(code: unknown, field: string): FieldError | null {
  if (typeof code === "string" && CURRENCIES.has(code)) {
    return null;
  }
  return { field, code: "UNKNOWN_CURRENCY", detail: describeUnknown(code) };
}

/**
 * The currency for `code`. Throws AppError `VALIDATION_FAILED` (field error `UNKNOWN_CURRENCY`
 * at `/currency`) for an unknown, withdrawn or lower-case code.
 */
export function getCurrency(code: string): Currency {
  const found = CURRENCIES.get(code);
  if (found === undefined) {
    const detail = describeUnknown(code);
    throw new AppError("VALIDATION_FAILED", detail, {
      fieldErrors: [{ field: "/currency", code: "UNKNOWN_CURRENCY", detail }],
    });
  }
  return found;
}

function describeUnknown(code: unknown): string {
  if (typeof code !== "string") {
    return "A currency must be a three-letter ISO 4217 code such as USD";
  }
  const upper = code.toUpperCase();
  if (upper !== code && CURRENCIES.has(upper)) {
    return `Currency codes are upper case: write ${upper}, not ${code}`;
  }
  const successor = WITHDRAWN[upper];
  if (successor !== undefined) {
    return `${upper} has been withdrawn from ISO 4217; use ${successor}`;
  }
  if (!CODE_SHAPE.test(upper)) {
    return `"${code}" is not a three-letter ISO 4217 code such as USD`;
  }
  return `${code} is not an active ISO 4217 currency with a minor unit`;
}
