/** The error `promise` rejects with; fails the test when it resolves. */
export async function rejection<E extends Error = Error & { status?: number; retryAfterSeconds?: number }>(promise: Promise<unknown>): Promise<E> {
  const outcome = await promise.then(
    (value) => ({ ok: true as const, value }),
    (err: unknown) => ({ ok: false as const, err }),
  );
  if (outcome.ok) throw new Error(`expected a rejection, got ${JSON.stringify(outcome.value)}`);
  return outcome.err as E;
}

/** A promise whose settlement the test controls. */
export function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Polls `check` until it returns a value other than undefined (or false), at most `timeoutMs`; fails with `what`.
 * For waiting on real processes and servers: no fixed sleeps.
 */
export async function until<T>(check: () => Promise<T | undefined | false> | T | undefined | false, what = 'the condition', timeoutMs = 10_000, intervalMs = 10): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
