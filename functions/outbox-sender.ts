import type { HandedMessage } from "../lib/ingest/dispatch.ts";
import type { Logger } from "../lib/log/logger.ts";
import { meterFor } from "./meters.ts";

/** Queues accept 100 messages and 256 KB per `sendBatch`; stay a little under. */
const MAX_MESSAGES_PER_CALL = 100;
const MAX_BYTES_PER_CALL = 240 * 1024;

/**
 * Sends the rated-usage messages the account meters handed over in one request: as few
 * `sendBatch` calls as the queue's limits allow, across accounts. A call that fails hands its
 * messages back to their meters, whose alarms send them at once; if even that fails, the meters
 * send them after their resend delay (they keep every message until the sinks confirm it).
 */
export async function sendHandedOver(
  env: Env,
  handedOver: { accountId: string; messages: HandedMessage[] }[],
  log: Logger,
): Promise<void> {
  const all = handedOver.flatMap(({ accountId, messages }) =>
    messages.map((m) => ({ accountId, ...m })),
  );
  let call: typeof all = [];
  let bytes = 0;
  const calls: (typeof all)[] = [];
  for (const message of all) {
    const size = message.body.length;
    if (
      call.length > 0 &&
      (call.length >= MAX_MESSAGES_PER_CALL || bytes + size > MAX_BYTES_PER_CALL)
    ) {
      calls.push(call);
      call = [];
      bytes = 0;
    }
    call.push(message);
    bytes += size;
  }
  if (call.length > 0) {
    calls.push(call);
  }
  await Promise.all(
    calls.map(async (messages) => {
      try {
        await env.RATED_USAGE.sendBatch(
          messages.map((m) => ({ body: m.body, contentType: "text" as const })),
        );
      } catch (error) {
        log.warn("rated usage send failed; handing the messages back to their meters", {
          error,
          messages: messages.length,
        });
        const byAccount = new Map<string, string[]>();
        for (const m of messages) {
          byAccount.set(m.accountId, [...(byAccount.get(m.accountId) ?? []), m.batchId]);
        }
        await Promise.all(
          [...byAccount].map(([accountId, batchIds]) =>
            meterFor(env, accountId)
              .handBack(accountId, batchIds)
              .catch((handBackError: unknown) =>
                log.warn("hand-back failed; the meter resends after its delay", {
                  accountId,
                  error: handBackError,
                }),
              ),
          ),
        );
      }
    }),
  );
}
