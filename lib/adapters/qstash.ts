import { Client, Receiver } from "@upstash/qstash";

/** QStash for outbound notifications and signed inbound schedules. */
export interface QStashSettings {
  url: string;
  token: string;
  currentSigningKey: string;
  nextSigningKey: string;
}

/**
 * Publisher client. devMode is forced off: in dev mode the SDK ignores configured keys and
 * tries to download a binary, which would silently diverge from production.
 */
export function openQStash(settings: QStashSettings): Client {
  return new Client({
    baseUrl: settings.url,
    token: settings.token,
    devMode: false,
    enableTelemetry: false,
  });
}

/** Verifies `Upstash-Signature` with the current key, then the next one (key rotation). */
export function openQStashReceiver(settings: QStashSettings): Receiver {
  return new Receiver({
    currentSigningKey: settings.currentSigningKey,
    nextSigningKey: settings.nextSigningKey,
    devMode: false,
  });
}
