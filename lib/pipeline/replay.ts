import type { Queryable } from "../adapters/postgres.ts";
import type { Clock } from "../clock/clock.ts";
import { type DeadLetter, markReplayed } from "../ledger/dead-letters.ts";

/** The slice of a queue producer binding replay uses. */
export interface QueueSender {
  sendBatch(messages: Iterable<{ body: unknown; contentType?: "json" }>): Promise<unknown>;
}

/** A `sendBatch` call takes at most 100 messages and 256 KB; keep a margin for envelopes. */
const MAX_MESSAGES_PER_SEND = 100;
const MAX_BYTES_PER_SEND = 200 * 1024;

function replayBody(letter: DeadLetter): unknown {
  try {
    return JSON.parse(letter.body);
  } catch {
    // Recorded from a body that was not JSON; send the text, the consumer will judge it again.
    return letter.body;
  }
}

/**
 * Sends the stored bodies of `letters` to the rated-usage queue again, in as few `sendBatch`
 * calls as the queue's limits allow, and marks each chunk replayed once the queue accepted it.
 * The sinks are idempotent by batch id, so a replay of a batch that landed meanwhile, or a
 * replay repeated after a crash between send and mark, still counts everything once. Throws the
 * queue's or the database's error; chunks sent before it stay sent and marked. Returns the ids
 * replayed.
 */
export async function replayDeadLetters(
  db: Queryable,
  queue: QueueSender,
  letters: readonly DeadLetter[],
  clock: Clock,
): Promise<string[]> {
  const encoder = new TextEncoder();
  const replayed: string[] = [];
  let chunk: DeadLetter[] = [];
  let bytes = 0;
  const flush = async () => {
    if (chunk.length === 0) {
      return;
    }
    await queue.sendBatch(
      chunk.map((letter) => ({ body: replayBody(letter), contentType: "json" })),
    );
    const ids = chunk.map((letter) => letter.id);
    await markReplayed(db, ids, clock.nowMs());
    replayed.push(...ids);
    chunk = [];
    bytes = 0;
  };
  for (const letter of letters) {
    const size = encoder.encode(letter.body).byteLength;
    if (
      chunk.length >= MAX_MESSAGES_PER_SEND ||
      (chunk.length > 0 && bytes + size > MAX_BYTES_PER_SEND)
    ) {
      await flush();
    }
    chunk.push(letter);
    bytes += size;
  }
  await flush();
  return replayed;
}
