/**
 * A 64-bit FNV-1a hash (two 32-bit lanes) of an event's producer-supplied payload, used to tell
 * a retry (same id, same payload) from a conflict (same id, different payload). Not a security
 * boundary: a collision only makes a conflicting event count as a duplicate.
 */
export function payloadFingerprint(
  meter: string,
  value: string | null,
  timeMs: number | null,
  properties: Record<string, string>,
): string {
  let text = `${meter}\u0000${value ?? "\u0001"}\u0000${timeMs ?? "\u0001"}`;
  const keys = Object.keys(properties).sort();
  for (const key of keys) {
    text += `\u0000${key}\u0002${properties[key]}`;
  }
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    h2 ^= h2 >>> 15;
  }
  return (h1 >>> 0).toString(16).padStart(8, "0") + (h2 >>> 0).toString(16).padStart(8, "0");
}
