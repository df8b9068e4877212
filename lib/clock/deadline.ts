/**
 * The value of `work`, or null when it fails or has not settled within `timeoutMs` (the caller
 * then goes ahead without it). A late settlement is absorbed, never an unhandled rejection.
 */
export async function withinDeadline<T>(work: Promise<T>, timeoutMs: number): Promise<T | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), timeoutMs);
  });
  try {
    return await Promise.race([work, deadline]);
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
    work.catch(() => {});
  }
}
