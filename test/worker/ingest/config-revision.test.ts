import { describe, expect, it } from "vitest";
import { isNewerRevision } from "../../../durable-objects/account-meter.ts";

describe("configuration revisions pushed to the account meter", () => {
  it.each([
    ["2:5", "1:5", true],
    ["1:6", "1:5", true],
    ["2:6", "1:5", true],
    ["1:5", "1:5", false],
    ["1:4", "1:5", false],
    ["2:4", "1:5", false],
    ["10:5", "9:5", true],
  ])("%s supersedes %s: %s", (next, current, expected) => {
    expect(isNewerRevision(next, current)).toBe(expected);
  });
});
