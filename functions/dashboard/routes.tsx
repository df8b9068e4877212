import type { Context } from "hono";
import { Hono } from "hono";
import { deleteCookie, setCookie } from "hono/cookie";
import type { Child } from "hono/jsx";
import { openRedis } from "../../lib/adapters/redis.ts";
import { timingSafeEqualText } from "../../lib/auth/api-keys.ts";
import { recordSignInFailure, signInWaitSeconds } from "../../lib/auth/sign-in-throttle.ts";
import type { AppEnv } from "../context.ts";
import { hasSession, isCrossOrigin, isSecure, runGraphQL } from "../routes/graphql.ts";
import { assetResponse, assetUrls } from "./assets.ts";
import { Layout } from "./layout.tsx";
import { AccountPage, CHART_MINUTES } from "./pages/account.tsx";
import { InvoicePage } from "./pages/invoice.tsx";
import { OverviewPage } from "./pages/overview.tsx";
import { NotFoundPage, SignInPage } from "./pages/sign-in.tsx";
import {
  ACCOUNT_DRIFT_QUERY,
  ACCOUNT_QUERY,
  DRIFT_QUERY,
  INVOICE_QUERY,
  OVERVIEW_QUERY,
} from "./queries.ts";
import { issueSession, SESSION_TTL_SECONDS, sessionCookieName } from "./session.ts";

const MINUTE_MS = 60_000;

/**
 * Pages may load only this Worker's own scripts, styles and API; nothing inline runs, nothing
 * frames them, and forms post only here.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

function securityHeaders(c: Context<AppEnv>): void {
  c.header("Content-Security-Policy", CONTENT_SECURITY_POLICY);
  c.header("X-Frame-Options", "DENY");
  c.header("X-Content-Type-Options", "nosniff");
  c.header("Referrer-Policy", "same-origin");
  c.header("Cache-Control", "no-store");
}

async function page(
  c: Context<AppEnv>,
  title: string,
  body: Child,
  options: { status?: 200 | 401 | 403 | 404 | 429; signedIn?: boolean } = {},
): Promise<Response> {
  securityHeaders(c);
  const html = await (
    <Layout title={title} assets={assetUrls()} signedIn={options.signedIn ?? true}>
      {body}
    </Layout>
  ).toString();
  return c.html(`<!doctype html>${html}`, options.status ?? 200);
}

/**
 * An id from the URL as a page may quote it: at most 80 characters, with control and
 * bidirectional-override characters shown as \u escapes so they cannot reorder the text.
 */
function shownId(id: string): string {
  const clean = id.replace(
    /[\p{Cc}\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  return clean.length > 80 ? `${clean.slice(0, 80)}…` : clean;
}

/** The messages of errors in an answer, for the page's "could not be read" notice. */
function problemsOf(answer: { errors?: { message: string; extensions?: { code?: string } }[] }) {
  return (answer.errors ?? []).map((e) => `${e.message} (${e.extensions?.code ?? "ERROR"})`);
}

function isNotFound(answer: { errors?: { extensions?: { code?: string } }[] }): boolean {
  return (answer.errors ?? []).some((e) => e.extensions?.code === "NOT_FOUND");
}

/** The internal dashboard, behind admin sign-in. Reads everything through the GraphQL API. */
export const dashboardRoutes = new Hono<AppEnv>();

dashboardRoutes.get("/dashboard/assets/:name", (c) => {
  const response = assetResponse(
    c.req.param("name"),
    c.req.query("v"),
    c.req.header("if-none-match"),
  );
  return response ?? c.notFound();
});

dashboardRoutes.get("/dashboard/sign-in", async (c) => {
  if (await hasSession(c)) {
    return c.redirect("/dashboard", 303);
  }
  return page(c, "Sign in", <SignInPage error={null} />, { signedIn: false });
});

dashboardRoutes.post("/dashboard/sign-in", async (c) => {
  // Refuse a sign-in posted from another origin's page (login CSRF).
  if (isCrossOrigin(c)) {
    return page(c, "Sign in", <SignInPage error="Sign in from this site's own page." />, {
      status: 403,
      signedIn: false,
    });
  }
  const config = c.get("config");
  const redis = openRedis(config.redis);
  // Cloudflare sets the client's address; without it (local runs) all clients share one count.
  const client = c.req.header("cf-connecting-ip") ?? "unknown";
  const waitSeconds = await signInWaitSeconds(redis, client, c.get("clock").nowMs());
  if (waitSeconds === null) {
    c.get("log").warn("sign-in throttle unavailable; attempt not checked");
  } else if (waitSeconds > 0) {
    c.get("log").warn("dashboard sign-in throttled", { client, waitSeconds });
    c.header("Retry-After", String(waitSeconds));
    const minutes = Math.ceil(waitSeconds / 60);
    return page(
      c,
      "Sign in",
      <SignInPage error={`Too many wrong keys from this address. Try again in ${minutes} min.`} />,
      { status: 429, signedIn: false },
    );
  }
  const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
  const key = typeof form.key === "string" ? form.key.trim() : "";
  if (!timingSafeEqualText(key, config.adminApiKey)) {
    c.get("log").warn("dashboard sign-in refused", { client });
    await recordSignInFailure(redis, client);
    return page(c, "Sign in", <SignInPage error="That is not the admin key." />, {
      status: 401,
      signedIn: false,
    });
  }
  const secure = isSecure(c);
  setCookie(
    c,
    sessionCookieName(secure),
    await issueSession(config.adminApiKey, c.get("clock").nowMs()),
    {
      path: "/",
      httpOnly: true,
      secure,
      sameSite: "Strict",
      maxAge: SESSION_TTL_SECONDS,
    },
  );
  c.get("log").info("dashboard sign-in");
  return c.redirect("/dashboard", 303);
});

dashboardRoutes.post("/dashboard/sign-out", (c) => {
  // Another site may not sign the admin out either.
  if (isCrossOrigin(c)) {
    return c.redirect("/dashboard", 303);
  }
  const secure = isSecure(c);
  deleteCookie(c, sessionCookieName(secure), {
    path: "/",
    secure,
    httpOnly: true,
    sameSite: "Strict",
  });
  return c.redirect("/dashboard/sign-in", 303);
});

// Every other dashboard page needs a session; without one the browser goes to sign in.
// A trailing slash is a typo, not another page.
dashboardRoutes.get("/dashboard/", (c) => c.redirect("/dashboard", 301));

dashboardRoutes.use("/dashboard", async (c, next) => {
  if (!(await hasSession(c))) {
    return c.redirect("/dashboard/sign-in", 303);
  }
  await next();
});
dashboardRoutes.use("/dashboard/accounts/*", async (c, next) => {
  if (!(await hasSession(c))) {
    return c.redirect("/dashboard/sign-in", 303);
  }
  await next();
});
dashboardRoutes.use("/dashboard/invoices/*", async (c, next) => {
  if (!(await hasSession(c))) {
    return c.redirect("/dashboard/sign-in", 303);
  }
  await next();
});

dashboardRoutes.get("/dashboard", async (c) => {
  const [overview, drift] = await Promise.all([
    runGraphQL(c, OVERVIEW_QUERY, {}),
    runGraphQL(c, DRIFT_QUERY, {}),
  ]);
  return page(
    c,
    "Overview",
    <OverviewPage
      data={overview.data ?? null}
      drift={drift.data ?? null}
      problems={[...problemsOf(overview), ...problemsOf(drift)]}
    />,
  );
});

dashboardRoutes.get("/dashboard/accounts/:id", async (c) => {
  const id = c.req.param("id");
  const toMs = Math.floor(c.get("clock").nowMs() / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
  const variables = {
    id,
    bucketsFrom: new Date(toMs - CHART_MINUTES * MINUTE_MS).toISOString(),
    bucketsTo: new Date(toMs).toISOString(),
  };
  const [account, drift] = await Promise.all([
    runGraphQL(c, ACCOUNT_QUERY, variables),
    runGraphQL(c, ACCOUNT_DRIFT_QUERY, { id }),
  ]);
  if (isNotFound(account)) {
    return page(c, "Not found", <NotFoundPage what={`No account has the id ${shownId(id)}.`} />, {
      status: 404,
    });
  }
  return page(
    c,
    `Account ${id}`,
    <AccountPage
      data={account.data ?? null}
      drift={drift.data ?? null}
      variables={variables}
      problems={[...problemsOf(account), ...problemsOf(drift)]}
    />,
  );
});

dashboardRoutes.get("/dashboard/invoices/:id", async (c) => {
  const id = c.req.param("id");
  const invoice = await runGraphQL(c, INVOICE_QUERY, { id });
  if (isNotFound(invoice)) {
    return page(c, "Not found", <NotFoundPage what={`No invoice has the id ${shownId(id)}.`} />, {
      status: 404,
    });
  }
  return page(
    c,
    `Invoice ${id}`,
    <InvoicePage data={invoice.data ?? null} id={id} problems={problemsOf(invoice)} />,
  );
});
