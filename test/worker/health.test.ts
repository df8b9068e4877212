import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

describe("GET /healthz", () => {
  it("reports every dependency reachable through the production SDKs", async () => {
    const response = await exports.default.fetch("http://meterline.test/healthz");
    const body = (await response.json()) as {
      status: string;
      dependencies: { name: string; reachable: boolean }[];
    };
    expect(body.dependencies.map((d) => [d.name, d.reachable])).toEqual([
      ["postgres", true],
      ["clickhouse", true],
      ["redis", true],
      ["stripe", true],
      ["qstash", true],
    ]);
    expect(response.status).toBe(200);
  });
});
