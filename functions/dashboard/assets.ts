import uplotJs from "uplot/dist/uPlot.iife.min.js";
import uplotCss from "uplot/dist/uPlot.min.css";
import dashboardCss from "./assets/dashboard.client.css";
import dashboardJs from "./assets/dashboard.client.js";
import type { AssetUrls } from "./layout.tsx";

// The dashboard's static files, bundled into the Worker as text (wrangler.toml module rules) and
// served from it: no CDN, no separate asset upload, one deploy.

interface Asset {
  body: string;
  type: string;
  /** Content hash: the URL's `v` and the ETag, so a new deploy is never served stale. */
  version: string;
}

/** FNV-1a (32 bit) of the text: a cache key, not a security measure. */
function contentHash(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0).toString(16).padStart(8, "0");
}

function asset(body: string, type: string): Asset {
  return { body, type, version: contentHash(body) };
}

/** Every asset by file name, hashed once per isolate. */
const ASSETS: Readonly<Record<string, Asset>> = {
  "uplot.js": asset(uplotJs, "text/javascript; charset=utf-8"),
  "uplot.css": asset(uplotCss, "text/css; charset=utf-8"),
  "dashboard.js": asset(dashboardJs, "text/javascript; charset=utf-8"),
  "dashboard.css": asset(dashboardCss, "text/css; charset=utf-8"),
};

const url = (name: string) => `/dashboard/assets/${name}?v=${ASSETS[name]?.version ?? "0"}`;

/** Versioned URLs of the assets, for the page head. */
export function assetUrls(): AssetUrls {
  return {
    uplotJs: url("uplot.js"),
    uplotCss: url("uplot.css"),
    dashboardJs: url("dashboard.js"),
    dashboardCss: url("dashboard.css"),
  };
}

/**
 * The response for `/dashboard/assets/<name>`, or null when there is no such asset. A request
 * naming the current version may cache forever; any other revalidates by ETag.
 */
export function assetResponse(
  name: string,
  version: string | undefined,
  ifNoneMatch: string | undefined,
): Response | null {
  const found = ASSETS[name];
  if (!found) {
    return null;
  }
  const etag = `"${found.version}"`;
  const headers = {
    "Content-Type": found.type,
    ETag: etag,
    "Cache-Control": version === found.version ? "public, max-age=31536000, immutable" : "no-cache",
    "X-Content-Type-Options": "nosniff",
  };
  if (ifNoneMatch === etag) {
    return new Response(null, { status: 304, headers });
  }
  return new Response(found.body, { headers });
}
