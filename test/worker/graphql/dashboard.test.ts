import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { BASE } from "../support/http.ts";
import { seedInvoice, seedPricedAccount, testDb } from "./support.ts";

async function fetchPage(path: string, init: RequestInit = {}, base = BASE): Promise<Response> {
  return exports.default.fetch(new Request(`${base}${path}`, { redirect: "manual", ...init }));
}

async function signIn(key: string, base = BASE): Promise<Response> {
  return fetchPage(
    "/dashboard/sign-in",
    {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: base },
      body: new URLSearchParams({ key }).toString(),
    },
    base,
  );
}

/** Signs in and returns the `name=value` of the session cookie. */
async function sessionCookie(): Promise<string> {
  const response = await signIn(env.ADMIN_API_KEY);
  expect(response.status).toBe(303);
  return (response.headers.get("set-cookie") ?? "").split(";")[0] as string;
}

describe("dashboard sign-in", () => {
  it("sends a visitor without a session to the sign-in form", async () => {
    for (const path of ["/dashboard", "/dashboard/accounts/x", "/dashboard/invoices/y"]) {
      const response = await fetchPage(path);
      expect(response.status).toBe(303);
      expect(response.headers.get("location")).toBe("/dashboard/sign-in");
    }
    const slash = await fetchPage("/dashboard/");
    expect([slash.status, slash.headers.get("location")]).toEqual([301, "/dashboard"]);
    const form = await fetchPage("/dashboard/sign-in");
    expect(form.status).toBe(200);
    const html = await form.text();
    expect(html).toContain('<form class="sign-in" method="post" action="/dashboard/sign-in">');
    expect(html).toContain('type="password"');
  });

  it("exchanges the admin key for an HttpOnly, SameSite=Strict session cookie", async () => {
    const response = await signIn(env.ADMIN_API_KEY);
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("/dashboard");
    const cookie = response.headers.get("set-cookie") ?? "";
    expect(cookie).toMatch(
      /^meterline_session=v1\.\d+\.[\w-]+\.[\w-]+; Max-Age=28800; Path=\/; HttpOnly; SameSite=Strict$/,
    );
    expect(cookie).not.toContain(env.ADMIN_API_KEY);
  });

  it("marks the cookie Secure with the __Host- prefix over https", async () => {
    const response = await signIn(env.ADMIN_API_KEY, "https://meterline.test");
    expect(response.headers.get("set-cookie")).toMatch(
      /^__Host-meterline_session=v1\.[^;]+; Max-Age=28800; Path=\/; HttpOnly; Secure; SameSite=Strict$/,
    );
  });

  it("refuses a wrong key with 401 and sets no cookie", async () => {
    const response = await signIn("not-the-admin-key-0123456789abcdef");
    expect(response.status).toBe(401);
    expect(response.headers.get("set-cookie")).toBeNull();
    expect(await response.text()).toContain("That is not the admin key.");
  });

  it("throttles an address after 10 wrong keys, even its right key, and no other address", async () => {
    const address = (n: number) => `198.51.100.${n}`;
    const from = (ip: string, key: string) =>
      fetchPage("/dashboard/sign-in", {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          origin: BASE,
          "cf-connecting-ip": ip,
        },
        body: new URLSearchParams({ key }).toString(),
      });
    const guesser = address(77);
    const statuses: number[] = [];
    for (let i = 0; i < 10; i += 1) {
      statuses.push((await from(guesser, `wrong-key-${i}`)).status);
    }
    expect(statuses).toEqual(Array(10).fill(401));
    const blocked = await from(guesser, env.ADMIN_API_KEY);
    expect(blocked.status).toBe(429);
    expect(blocked.headers.get("set-cookie")).toBeNull();
    const wait = Number(blocked.headers.get("retry-after"));
    expect(wait >= 1 && wait <= 900).toBe(true);
    expect(await blocked.text()).toContain("Too many wrong keys from this address.");
    const other = await from(address(1), env.ADMIN_API_KEY);
    expect(other.status).toBe(303);
  });

  it("refuses a sign-in posted from another origin", async () => {
    const response = await fetchPage("/dashboard/sign-in", {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        origin: "https://evil.example",
      },
      body: new URLSearchParams({ key: env.ADMIN_API_KEY }).toString(),
    });
    expect(response.status).toBe(403);
    expect(response.headers.get("set-cookie")).toBeNull();
  });

  it("signs out by expiring the cookie", async () => {
    const response = await fetchPage("/dashboard/sign-out", {
      method: "POST",
      headers: { origin: BASE },
    });
    expect(response.status).toBe(303);
    expect(response.headers.get("set-cookie")).toMatch(/^meterline_session=; Max-Age=0; Path=\//);
  });
});

describe("dashboard pages", () => {
  it("renders the overview from the GraphQL API, with a strict content security policy", async () => {
    const cookie = await sessionCookie();
    const { accountId } = await seedPricedAccount();
    const response = await fetchPage("/dashboard", { headers: { cookie } });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-security-policy")).toBe(
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    expect(response.headers.get("cache-control")).toBe("no-store");
    const html = await response.text();
    expect(html.startsWith("<!doctype html>")).toBe(true);
    expect(html).toContain('<h2 id="pipeline">Pipeline health</h2>');
    expect(html).toContain('data-live="overview"');
    expect(html.match(/Some parts could not be read: [^<]*/)?.[0]).toBeUndefined();
    // The newest accounts are listed (first page by id holds at most 20; this one may be past it).
    expect(html).toContain('data-list="accounts.nodes"');
    expect(html.includes(accountId) || html.includes('data-key="')).toBe(true);
  });

  it("renders an account's usage and an invoice's lines", async () => {
    const cookie = await sessionCookie();
    const { accountId, meter } = await seedPricedAccount();
    const invoiceId = `inv_dash_${crypto.randomUUID().slice(0, 8)}`;
    const db = testDb();
    try {
      await seedInvoice(db, {
        id: invoiceId,
        accountId,
        number: "DASH-0001",
        periodStart: "2026-10-01T00:00:00Z",
        periodEnd: "2026-11-01T00:00:00Z",
        totalMinor: 1234,
        lines: [
          {
            description: "Tokens <b>bold</b>",
            meter,
            quantity: "24.68",
            amount: "12.34",
            amountMinor: 1234,
          },
        ],
      });
    } finally {
      await db.end();
    }
    const account = await fetchPage(`/dashboard/accounts/${accountId}`, { headers: { cookie } });
    expect(account.status).toBe(200);
    const accountHtml = await account.text();
    expect(accountHtml).toContain(`Account GraphQL test account`);
    expect(accountHtml).toContain('data-charts="account.usage.meters.nodes"');
    expect(accountHtml).toContain("DASH-0001");

    const invoice = await fetchPage(`/dashboard/invoices/${invoiceId}`, { headers: { cookie } });
    expect(invoice.status).toBe(200);
    const invoiceHtml = await invoice.text();
    expect(invoiceHtml).toContain("<h1>Invoice DASH-0001</h1>");
    expect(invoiceHtml).toContain("Tokens &lt;b&gt;bold&lt;/b&gt;");
    expect(invoiceHtml).toContain("USD 12.34");
    // The JSON handed to the client cannot close its script element.
    expect(invoiceHtml).toContain("Tokens \\u003cb>bold\\u003c/b>");

    const missing = await fetchPage("/dashboard/invoices/inv_nope", { headers: { cookie } });
    expect(missing.status).toBe(404);
  });

  it("quotes an unknown id at most 80 characters long, with direction overrides escaped", async () => {
    const cookie = await sessionCookie();
    const id = `evil\u202Eexe.${"x".repeat(3000)}`;
    const response = await fetchPage(`/dashboard/accounts/${encodeURIComponent(id)}`, {
      headers: { cookie },
    });
    expect(response.status).toBe(404);
    const html = await response.text();
    expect(html).toContain(`No account has the id evil\\u202eexe.${"x".repeat(66)}….`);
    expect(html).not.toContain("\u202E");
    expect(html).not.toContain("x".repeat(67));
  });

  it("serves uPlot and its own assets from the Worker, versioned", async () => {
    const html = await (await fetchPage("/dashboard/sign-in")).text();
    const css = /href="(\/dashboard\/assets\/dashboard\.css\?v=[0-9a-f]{8})"/.exec(html)?.[1];
    expect(css).toBeDefined();
    const styles = await fetchPage(css as string);
    expect(styles.headers.get("content-type")).toBe("text/css; charset=utf-8");
    expect(styles.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    await styles.body?.cancel();
    const uplot = await fetchPage("/dashboard/assets/uplot.js");
    expect(uplot.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(uplot.headers.get("cache-control")).toBe("no-cache");
    expect(await uplot.text()).toContain("uPlot");
    const again = await fetchPage("/dashboard/assets/uplot.js", {
      headers: { "if-none-match": uplot.headers.get("etag") ?? "" },
    });
    expect(again.status).toBe(304);
  });
});
