/**
 * One delivery attempt as QStash makes it: the stored body and forwarded headers, plus
 * `Upstash-Message-Id`, `Upstash-Retried`, `Upstash-Signature` (signed at attempt time) and the
 * other `Upstash-*` facts. `buildDelivery` is shared by push mode (which sends it here with
 * `attemptPush`) and pull mode (which hands it to a test to replay into workerd).
 */
import type { AttemptResult } from "./broker.ts";
import { assertLoopbackUrl } from "./publish-request.ts";
import { signDelivery } from "./signature.ts";
import type { MessageRecord } from "./state.ts";

/** Attempts with no `Upstash-Timeout` give up after this long (wall clock). */
export const DEFAULT_ATTEMPT_TIMEOUT_MS = 30_000;
/** Response bodies kept for the DLQ and callbacks are cut at this size. */
const MAX_RESPONSE_BYTES = 256 * 1024;

/** Headers a publisher may not forward because the HTTP client owns them. */
const CONNECTION_HEADERS = new Set([
  "connection",
  "content-length",
  "host",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
]);

export interface OutgoingDelivery {
  messageId: string;
  url: string;
  method: string;
  /** Lower-case names, single values. */
  headers: Record<string, string>;
  body: Buffer;
  retried: number;
}

/** Builds the signed request for the next attempt of `message`, signed at `wallNowMs`. */
export function buildDelivery(
  message: MessageRecord,
  signingKey: string,
  wallNowMs: number,
): OutgoingDelivery {
  // A GET carries no body, so the signature covers the empty body actually sent.
  const body =
    message.method === "GET" ? Buffer.alloc(0) : Buffer.from(message.bodyBase64, "base64");
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers)) {
    if (!CONNECTION_HEADERS.has(name)) {
      headers[name] = value;
    }
  }
  headers["user-agent"] = "Upstash-QStash";
  headers["upstash-message-id"] = message.messageId;
  headers["upstash-retried"] = String(message.retried);
  headers["upstash-caller-ip"] = message.callerIp;
  if (message.scheduleId !== undefined) {
    headers["upstash-schedule-id"] = message.scheduleId;
  }
  headers["upstash-signature"] = signDelivery({
    url: message.url,
    body,
    signingKey,
    nowMs: wallNowMs,
  });
  return {
    messageId: message.messageId,
    url: message.url,
    method: message.method,
    headers,
    body,
    retried: message.retried,
  };
}

async function readCapped(response: Response): Promise<Buffer> {
  const reader = response.body?.getReader();
  if (!reader) {
    return Buffer.alloc(0);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) {
      break;
    }
    chunks.push(value);
    size += value.length;
    if (size >= MAX_RESPONSE_BYTES) {
      await reader.cancel();
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, MAX_RESPONSE_BYTES);
}

/**
 * Sends `delivery` to its (loopback-only, re-checked here) URL without following redirects, so a
 * destination cannot bounce the sandbox to another host. Resolves with the status, headers and
 * body, or with `error` when no HTTP answer arrived within `timeoutMs`. Never throws.
 */
export async function attemptPush(
  delivery: OutgoingDelivery,
  timeoutMs: number,
): Promise<AttemptResult> {
  try {
    assertLoopbackUrl(delivery.url, "destination");
    const response = await fetch(delivery.url, {
      method: delivery.method,
      headers: delivery.headers,
      ...(delivery.method === "GET" ? {} : { body: new Uint8Array(delivery.body) }),
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
    const headers: Record<string, string[]> = {};
    response.headers.forEach((value, name) => {
      headers[name] = [value];
    });
    const body = await readCapped(response);
    return { status: response.status, headers, bodyBase64: body.toString("base64") };
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
    return { error: cause instanceof Error ? cause.message : String(cause) };
  }
}
