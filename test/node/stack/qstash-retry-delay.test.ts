/**
 * Retry timing of the QStash sandbox: the `Upstash-Retry-Delay` expression language and QStash's
 * default exponential backoff, both in milliseconds. Table-driven.
 */
import { describe, expect, it } from "vitest";
import {
  defaultRetryDelayMs,
  MAX_RETRY_DELAY_MS,
  parseRetryDelay,
  RetryDelaySyntaxError,
} from "../../../local-stack/qstash/retry-delay.ts";

describe("parseRetryDelay", () => {
  it.each([
    ["1000", 0, 1000],
    ["1000 * (1 + retried)", 2, 3000],
    ["pow(2, retried) * 1000", 3, 8000],
    ["max(10, pow(2, retried))", 1, 10],
    ["max(10, pow(2, retried))", 5, 32],
    ["min(5000, 100 * exp(retried))", 0, 100],
    ["floor(1500.7) + ceil(0.2) + round(2.5) + abs(-4) + sqrt(16)", 0, 1512],
    ["10 % 4 - -1", 0, 3],
    ["-5", 0, 0],
    ["1 / 0", 0, MAX_RETRY_DELAY_MS],
    ["99999999999", 0, MAX_RETRY_DELAY_MS],
  ])("%s with retried=%i waits %i ms", (expression, retried, expected) => {
    expect(parseRetryDelay(expression).delayMs(retried)).toBe(expected);
  });

  it.each([[""], ["retried +"], ["foo(1)"], ["pow(1)"], ["1000ms"], ["(1"], ["1 ; 2"]])(
    "refuses %j",
    (expression) => {
      expect(() => parseRetryDelay(expression)).toThrow(RetryDelaySyntaxError);
    },
  );
});

describe("defaultRetryDelayMs", () => {
  it.each([
    [0, 12_182],
    [1, 148_413],
    [2, 1_808_042],
    [3, 22_026_466],
    [4, MAX_RETRY_DELAY_MS],
  ])("after the attempt retried %i times, waits %i ms", (retried, expected) => {
    expect(defaultRetryDelayMs(retried)).toBe(expected);
  });
});
