import type { Child } from "hono/jsx";

/** Asset URLs; the version query changes whenever an asset's content does (see assets.ts). */
export interface AssetUrls {
  uplotJs: string;
  uplotCss: string;
  dashboardJs: string;
  dashboardCss: string;
}

/** The page frame: head, top bar with navigation and sign-out, and the page's main content. */
export function Layout(props: {
  title: string;
  assets: AssetUrls;
  signedIn: boolean;
  children?: Child;
}) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <link rel="icon" href="data:," />
        <title>{`${props.title} · meterline`}</title>
        <link rel="stylesheet" href={props.assets.uplotCss} />
        <link rel="stylesheet" href={props.assets.dashboardCss} />
        {props.signedIn ? <script src={props.assets.uplotJs} defer /> : null}
        {props.signedIn ? <script src={props.assets.dashboardJs} defer /> : null}
      </head>
      <body>
        <header class="top">
          <a class="brand" href="/dashboard">
            meterline
          </a>
          {props.signedIn ? (
            <nav aria-label="Main">
              <a href="/dashboard">Overview</a>
            </nav>
          ) : (
            <nav aria-label="Main" />
          )}
          {props.signedIn ? (
            <form method="post" action="/dashboard/sign-out">
              <button type="submit">Sign out</button>
            </form>
          ) : null}
        </header>
        <main>{props.children}</main>
      </body>
    </html>
  );
}
