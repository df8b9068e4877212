import { describe, expect, it } from "vitest";
import { parseIntervalSpec } from "../../../lib/periods/index.ts";
import { callJson } from "../support/http.ts";

interface JsonSchema {
  oneOf?: { $ref: string }[];
  discriminator?: unknown;
  required?: string[];
  properties?: Record<string, unknown>;
  additionalProperties?: boolean;
  example?: unknown;
}

const VARIANTS = {
  month: "MonthlyBillingInterval",
  year: "YearlyBillingInterval",
  day: "DailyBillingInterval",
  week: "WeeklyBillingInterval",
} as const;
const ref = (name: string) => `#/components/schemas/${name}`;

async function schemas(): Promise<Record<string, JsonSchema>> {
  const doc = await callJson<{ components: { schemas: Record<string, JsonSchema> } }>(
    "/openapi.json",
    200,
  );
  return doc.components.schemas;
}

describe("the OpenAPI document of the catalogue", () => {
  it("describes BillingInterval as one shape per unit, discriminated by unit", async () => {
    const interval = (await schemas()).BillingInterval;
    expect(interval?.oneOf).toEqual(Object.values(VARIANTS).map((name) => ({ $ref: ref(name) })));
    expect(interval?.discriminator).toEqual({
      propertyName: "unit",
      mapping: Object.fromEntries(
        Object.entries(VARIANTS).map(([unit, name]) => [unit, ref(name)]),
      ),
    });
  });

  it.each(Object.entries(VARIANTS))(
    "documents the %s interval with exactly the fields the server requires and allows",
    async (unit, name) => {
      const variant = (await schemas())[name] ?? {};
      // What lib/periods says about a bare {unit}: the required fields, by pointer.
      const bare = parseIntervalSpec({ unit });
      const required = bare.ok ? [] : bare.errors.filter((e) => e.code === "required");
      // And about an unknown key: the list of allowed ones, in its detail.
      const extra = parseIntervalSpec({ unit, extra: 1 });
      const allowed = extra.ok
        ? []
        : (extra.errors.find((e) => e.field === "/extra")?.detail.split("allowed: ")[1] ?? "");
      expect({
        required: [...(variant.required ?? [])].sort(),
        properties: Object.keys(variant.properties ?? {}).sort(),
        additionalProperties: variant.additionalProperties,
        exampleAccepted: parseIntervalSpec(variant.example).ok,
      }).toEqual({
        required: ["unit", ...required.map((e) => e.field.slice(1))].sort(),
        properties: String(allowed).split(", ").sort(),
        additionalProperties: false,
        exampleAccepted: true,
      });
    },
  );
});
